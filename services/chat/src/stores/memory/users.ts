import { confusableKey, NameConfusableError } from "../../domain/confusables.js";
import { nameKey, type UserRecord, type UserStore } from "../types.js";

interface StoredUser extends UserRecord {
  admin: boolean;
}

export class MemoryUserStore implements UserStore {
  private readonly users = new Map<string, StoredUser>();
  /** Confusable key → name key of the user who holds it. */
  private readonly holders = new Map<string, string>();

  async create(user: UserRecord): Promise<boolean> {
    const key = nameKey(user.username);
    if (this.users.has(key)) return false;
    const look = confusableKey(user.username);
    const holder = this.holders.get(look);
    if (holder !== undefined && holder !== key) throw new NameConfusableError("user", this.users.get(holder)?.username ?? holder);
    this.users.set(key, { ...user, admin: false });
    this.holders.set(look, key);
    return true;
  }

  async get(username: string): Promise<UserRecord | null> {
    const user = this.users.get(nameKey(username));
    if (!user) return null;
    const { username: name, passwordHash, createdAt } = user;
    return { username: name, passwordHash, createdAt };
  }

  async setPasswordHash(username: string, passwordHash: string): Promise<void> {
    const user = this.users.get(nameKey(username));
    if (user) user.passwordHash = passwordHash;
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
}
