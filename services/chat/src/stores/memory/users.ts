import { compareNameKeys } from "@sala/protocol";
import { confusableKey, NameConfusableError } from "../../domain/confusables.js";
import { nameKey, type LobbyPageQuery, type UserAccount, type UserRecord, type UserStore } from "../types.js";
import { namePage } from "./lobby.js";
import type { MemorySessionIndexStore } from "./session-index.js";
import { SortedList } from "./sorted-list.js";

export class MemoryUserStore implements UserStore {
  private readonly users = new Map<string, UserAccount>();
  /** Confusable key → name key of the user who holds it. */
  private readonly holders = new Map<string, string>();
  /** Name keys in name order: the directory. */
  private readonly byName = new SortedList<string>(compareNameKeys);

  constructor(private readonly sessionIndex?: MemorySessionIndexStore) {}

  async create(user: UserRecord): Promise<boolean> {
    const key = nameKey(user.username);
    if (this.users.has(key)) return false;
    const look = confusableKey(user.username);
    const holder = this.holders.get(look);
    if (holder !== undefined && holder !== key) throw new NameConfusableError("user", this.users.get(holder)?.username ?? holder);
    this.users.set(key, { ...user, admin: false, lockedAt: 0, mustChangePassword: false, lastLoginAt: 0, lastSeenAt: 0, sessionsNotBefore: 0 });
    this.holders.set(look, key);
    this.byName.add(key);
    return true;
  }

  async get(username: string): Promise<UserRecord | null> {
    const user = this.users.get(nameKey(username));
    if (!user) return null;
    const { username: name, passwordHash, createdAt } = user;
    return { username: name, passwordHash, createdAt };
  }

  async account(username: string): Promise<UserAccount | null> {
    const user = this.users.get(nameKey(username));
    return user ? { ...user } : null;
  }

  async setPasswordHash(username: string, passwordHash: string, mustChange?: boolean, guard: { expectedHash?: string; sessionsNotBefore?: number } = {}): Promise<boolean> {
    const user = this.users.get(nameKey(username));
    if (!user) return false;
    if (guard.expectedHash !== undefined && user.passwordHash !== guard.expectedHash) return false;
    user.passwordHash = passwordHash;
    if (mustChange !== undefined) user.mustChangePassword = mustChange;
    if (guard.sessionsNotBefore !== undefined) user.sessionsNotBefore = Math.max(user.sessionsNotBefore, guard.sessionsNotBefore);
    return true;
  }

  async endSessionsBefore(username: string, before: number): Promise<boolean> {
    const user = this.users.get(nameKey(username));
    if (!user) return false;
    user.sessionsNotBefore = Math.max(user.sessionsNotBefore, before);
    return true;
  }

  async setAdmin(username: string, admin: boolean): Promise<boolean> {
    const user = this.users.get(nameKey(username));
    if (!user) return false;
    user.admin = admin;
    return true;
  }

  async isAdmin(username: string): Promise<boolean> {
    return this.users.get(nameKey(username))?.admin ?? false;
  }

  async setLocked(username: string, locked: boolean, now: number): Promise<boolean> {
    const user = this.users.get(nameKey(username));
    if (!user) return false;
    if (!locked) user.lockedAt = 0;
    else {
      user.lockedAt ||= now;
      user.sessionsNotBefore = Math.max(user.sessionsNotBefore, now);
    }
    return true;
  }

  async recordSeen(username: string, now: number, login: boolean): Promise<void> {
    const user = this.users.get(nameKey(username));
    if (!user) return;
    user.lastSeenAt = now;
    if (login) user.lastLoginAt = now;
  }

  async delete(username: string): Promise<boolean> {
    const key = nameKey(username);
    const user = this.users.get(key);
    if (!user) return false;
    this.users.delete(key);
    const look = confusableKey(user.username);
    if (this.holders.get(look) === key) this.holders.delete(look);
    this.byName.delete(key);
    this.sessionIndex?.forget(key);
    return true;
  }

  async directory(query: LobbyPageQuery): Promise<{ items: string[]; next: string | null }> {
    const page = namePage(this.byName, query);
    return { items: page.keys, next: page.next };
  }

  async count(): Promise<number> {
    return this.users.size;
  }
}
