import { compareNameKeys } from "@sala/protocol";
import type { Statement } from "better-sqlite3";
import { confusableKey, NameConfusableError } from "../../domain/confusables.js";
import { nameKey, type LobbyPageQuery, type UserAccount, type UserRecord, type UserStore } from "../types.js";
import { writeTransaction, type SqliteDatabase } from "./database.js";
import type { SqliteSessionIndexStore } from "./session-index.js";

interface AccountRow {
  username: string;
  passwordHash: string;
  createdAt: number;
  admin: number;
  lockedAt: number;
  mustChangePassword: number;
  lastLoginAt: number;
  lastSeenAt: number;
  sessionsNotBefore: number;
}

const ACCOUNT_COLUMNS = `username, password_hash AS passwordHash, created_at AS createdAt, admin, locked_at AS lockedAt,
  must_change_password AS mustChangePassword, last_login_at AS lastLoginAt, last_seen_at AS lastSeenAt,
  sessions_not_before AS sessionsNotBefore`;

/**
 * Accounts in the `users` table (account-tables.ts). The look-alike claim is the table's UNIQUE
 * confusable_key, checked and written in the transaction that creates the row, so of racing
 * look-alike registrations exactly one wins; deleting the row frees the name and its look-alikes.
 */
export class SqliteUserStore implements UserStore {
  private readonly exists: Statement<[string], { username: string }>;
  private readonly holderOf: Statement<[string], { username: string }>;
  private readonly insert: Statement<[string, string, string, string, number]>;
  private readonly record: Statement<[string], Pick<UserRecord, "username" | "passwordHash" | "createdAt">>;
  private readonly accountRow: Statement<[string], AccountRow>;
  private readonly setHash: Statement<{ key: string; hash: string; mustChange: number | null; expected: string | null; notBefore: number }>;
  private readonly raiseNotBefore: Statement<[number, string]>;
  private readonly setAdminFlag: Statement<[number, string]>;
  private readonly adminFlag: Statement<[string], { admin: number }>;
  private readonly lock: Statement<{ key: string; now: number }>;
  private readonly unlock: Statement<[string]>;
  private readonly seen: Statement<{ key: string; now: number; login: number }>;
  private readonly remove: Statement<[string]>;
  private readonly fromKey: Statement<[string, number], { name_key: string }>;
  private readonly afterKey: Statement<[string, number], { name_key: string }>;
  private readonly total: Statement<[], { value: number }>;
  private readonly createTx: (key: string, look: string, user: UserRecord) => boolean;
  private readonly deleteTx: (key: string) => boolean;

  constructor(
    db: SqliteDatabase,
    /** Forgets a deleted account's sessions in the same transaction (as memory/users.ts does). */
    private readonly sessionIndex?: SqliteSessionIndexStore,
  ) {
    this.exists = db.prepare("SELECT username FROM users WHERE name_key = ?");
    this.holderOf = db.prepare("SELECT username FROM users WHERE confusable_key = ?");
    this.insert = db.prepare("INSERT INTO users (name_key, username, confusable_key, password_hash, created_at) VALUES (?, ?, ?, ?, ?)");
    this.record = db.prepare("SELECT username, password_hash AS passwordHash, created_at AS createdAt FROM users WHERE name_key = ?");
    this.accountRow = db.prepare(`SELECT ${ACCOUNT_COLUMNS} FROM users WHERE name_key = ?`);
    // mustChange NULL keeps the flag (a rehash); expected NULL replaces any hash; notBefore only moves forward.
    this.setHash = db.prepare(`UPDATE users SET password_hash = @hash,
      must_change_password = COALESCE(@mustChange, must_change_password),
      sessions_not_before = MAX(sessions_not_before, @notBefore)
      WHERE name_key = @key AND (@expected IS NULL OR password_hash = @expected)`);
    this.raiseNotBefore = db.prepare("UPDATE users SET sessions_not_before = MAX(sessions_not_before, ?) WHERE name_key = ?");
    this.setAdminFlag = db.prepare("UPDATE users SET admin = ? WHERE name_key = ?");
    this.adminFlag = db.prepare("SELECT admin FROM users WHERE name_key = ?");
    // A lock keeps its first time; every lock ends the sessions logged in before it.
    this.lock = db.prepare(`UPDATE users SET locked_at = CASE WHEN locked_at = 0 THEN @now ELSE locked_at END,
      sessions_not_before = MAX(sessions_not_before, @now) WHERE name_key = @key`);
    this.unlock = db.prepare("UPDATE users SET locked_at = 0 WHERE name_key = ?");
    this.seen = db.prepare(`UPDATE users SET last_seen_at = @now,
      last_login_at = CASE WHEN @login = 1 THEN @now ELSE last_login_at END WHERE name_key = @key`);
    this.remove = db.prepare("DELETE FROM users WHERE name_key = ?");
    // Directory pages walk the primary key in order: BINARY collation on UTF-8 is code point
    // order, the order of compareNameKeys (and of Redis's ZRANGEBYLEX).
    this.fromKey = db.prepare("SELECT name_key FROM users WHERE name_key >= ? ORDER BY name_key LIMIT ?");
    this.afterKey = db.prepare("SELECT name_key FROM users WHERE name_key > ? ORDER BY name_key LIMIT ?");
    this.total = db.prepare("SELECT value FROM user_count WHERE only = 1");

    this.createTx = writeTransaction(db, (key: string, look: string, user: UserRecord) => {
      if (this.exists.get(key)) return false;
      const holder = this.holderOf.get(look);
      if (holder) throw new NameConfusableError("user", holder.username);
      this.insert.run(key, user.username, look, user.passwordHash, user.createdAt);
      return true;
    });
    this.deleteTx = writeTransaction(db, (key: string) => {
      if (this.remove.run(key).changes === 0) return false;
      this.sessionIndex?.forget(key);
      return true;
    });
  }

  async create(user: UserRecord): Promise<boolean> {
    // The skeleton is computed outside the transaction: it is the costly part, and reads nothing.
    return this.createTx(nameKey(user.username), confusableKey(user.username), user);
  }

  async get(username: string): Promise<UserRecord | null> {
    return this.record.get(nameKey(username)) ?? null;
  }

  async account(username: string): Promise<UserAccount | null> {
    const row = this.accountRow.get(nameKey(username));
    if (!row) return null;
    return { ...row, admin: row.admin === 1, mustChangePassword: row.mustChangePassword === 1 };
  }

  async setPasswordHash(username: string, passwordHash: string, mustChange?: boolean, guard: { expectedHash?: string; sessionsNotBefore?: number } = {}): Promise<boolean> {
    const changed = this.setHash.run({
      key: nameKey(username),
      hash: passwordHash,
      mustChange: mustChange === undefined ? null : mustChange ? 1 : 0,
      expected: guard.expectedHash ?? null,
      notBefore: guard.sessionsNotBefore ?? 0,
    });
    return changed.changes === 1;
  }

  async endSessionsBefore(username: string, before: number): Promise<boolean> {
    return this.raiseNotBefore.run(before, nameKey(username)).changes === 1;
  }

  async setAdmin(username: string, admin: boolean): Promise<boolean> {
    return this.setAdminFlag.run(admin ? 1 : 0, nameKey(username)).changes === 1;
  }

  async isAdmin(username: string): Promise<boolean> {
    return this.adminFlag.get(nameKey(username))?.admin === 1;
  }

  async setLocked(username: string, locked: boolean, now: number): Promise<boolean> {
    const key = nameKey(username);
    return (locked ? this.lock.run({ key, now }) : this.unlock.run(key)).changes === 1;
  }

  async recordSeen(username: string, now: number, login: boolean): Promise<void> {
    this.seen.run({ key: nameKey(username), now, login: login ? 1 : 0 });
  }

  async delete(username: string): Promise<boolean> {
    return this.deleteTx(nameKey(username));
  }

  async directory({ prefix, after, limit }: LobbyPageQuery): Promise<{ items: string[]; next: string | null }> {
    if (limit <= 0) return { items: [], next: null };
    // One more than the page, to know whether there are more. The keys from `prefix` on that
    // start with it come first: the page ends at the first one that does not.
    const fromAfter = after !== null && compareNameKeys(after, prefix) >= 0;
    const rows = fromAfter ? this.afterKey.all(after, limit + 1) : this.fromKey.all(prefix, limit + 1);
    const keys: string[] = [];
    for (const { name_key: key } of rows) {
      if (!key.startsWith(prefix)) break;
      keys.push(key);
    }
    const more = keys.length > limit;
    if (more) keys.length = limit;
    return { items: keys, next: more ? keys.at(-1)! : null };
  }

  async count(): Promise<number> {
    return this.total.get()?.value ?? 0;
  }
}
