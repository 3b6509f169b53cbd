import { nameKey, type UserRecord, type UserStore } from "../types.js";

export class MemoryUserStore implements UserStore {
  private readonly users = new Map<string, UserRecord>();

  async create(user: UserRecord): Promise<boolean> {
    const key = nameKey(user.username);
    if (this.users.has(key)) return false;
    this.users.set(key, { ...user });
    return true;
  }

  async get(username: string): Promise<UserRecord | null> {
    const user = this.users.get(nameKey(username));
    return user ? { ...user } : null;
  }

  async setPasswordHash(username: string, passwordHash: string): Promise<void> {
    const user = this.users.get(nameKey(username));
    if (user) user.passwordHash = passwordHash;
  }
}
