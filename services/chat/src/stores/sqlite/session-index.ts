import type { Statement } from "better-sqlite3";
import { nameKey, type SessionEntry, type SessionIndexStore } from "../types.js";
import { writeTransaction, type SqliteDatabase } from "./database.js";

/** Each user's sessions in `user_sessions` (account-tables.ts), by login time; same rules as the Redis store. */
export class SqliteSessionIndexStore implements SessionIndexStore {
  private readonly upsert: Statement<[string, string, number]>;
  private readonly forgetOlder: Statement<[string, number]>;
  private readonly removeOne: Statement<[string, string]>;
  private readonly removeAll: Statement<[string]>;
  private readonly byLogin: Statement<[string], SessionEntry>;
  private readonly addTx: (key: string, entry: SessionEntry, forgetBefore: number) => void;

  constructor(db: SqliteDatabase) {
    this.upsert = db.prepare(
      "INSERT INTO user_sessions (name_key, session_id, login_at) VALUES (?, ?, ?) ON CONFLICT (name_key, session_id) DO UPDATE SET login_at = excluded.login_at",
    );
    // Both by user_sessions_by_login: a user's entries are few (one per login within the absolute timeout).
    this.forgetOlder = db.prepare("DELETE FROM user_sessions WHERE name_key = ? AND login_at < ?");
    this.byLogin = db.prepare("SELECT session_id AS id, login_at AS loginAt FROM user_sessions WHERE name_key = ? ORDER BY login_at, session_id");
    this.removeOne = db.prepare("DELETE FROM user_sessions WHERE name_key = ? AND session_id = ?");
    this.removeAll = db.prepare("DELETE FROM user_sessions WHERE name_key = ?");
    this.addTx = writeTransaction(db, (key: string, entry: SessionEntry, forgetBefore: number) => {
      this.upsert.run(key, entry.id, entry.loginAt);
      this.forgetOlder.run(key, forgetBefore);
    });
  }

  async add(username: string, entry: SessionEntry, forgetBefore: number): Promise<void> {
    this.addTx(nameKey(username), entry, forgetBefore);
  }

  async remove(username: string, sessionId: string): Promise<void> {
    this.removeOne.run(nameKey(username), sessionId);
  }

  async list(username: string): Promise<SessionEntry[]> {
    return this.byLogin.all(nameKey(username));
  }

  /** Forgets every session of the user (the account is deleted; run inside its transaction). */
  forget(username: string): void {
    this.removeAll.run(nameKey(username));
  }
}
