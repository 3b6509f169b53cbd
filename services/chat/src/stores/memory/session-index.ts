import { nameKey, type SessionEntry, type SessionIndexStore } from "../types.js";

/** In-process session index (embedded mode, unit tests); same rules as the Redis store. */
export class MemorySessionIndexStore implements SessionIndexStore {
  private readonly byUser = new Map<string, Map<string, number>>();

  async add(username: string, entry: SessionEntry, forgetBefore: number): Promise<void> {
    const sessions = this.byUser.get(nameKey(username)) ?? new Map<string, number>();
    sessions.set(entry.id, entry.loginAt);
    for (const [id, loginAt] of sessions) if (loginAt < forgetBefore) sessions.delete(id);
    this.byUser.set(nameKey(username), sessions);
  }

  async remove(username: string, sessionId: string): Promise<void> {
    this.byUser.get(nameKey(username))?.delete(sessionId);
  }

  async list(username: string): Promise<SessionEntry[]> {
    return [...(this.byUser.get(nameKey(username)) ?? [])].map(([id, loginAt]) => ({ id, loginAt })).sort((a, b) => a.loginAt - b.loginAt);
  }

  /** Forgets every session of the user (the account is deleted). */
  forget(username: string): void {
    this.byUser.delete(nameKey(username));
  }
}
