import type { RedisClient } from "../../redis.js";
import { nameKey, type SessionEntry, type SessionIndexStore } from "../types.js";
import type { RedisKeys } from "./keys.js";

/** Each user's sessions in a sorted set of their own (`user:<name>:sessions`, by login time). */
export class RedisSessionIndexStore implements SessionIndexStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
  ) {}

  async add(username: string, entry: SessionEntry, forgetBefore: number): Promise<void> {
    const key = this.keys.userSessions(nameKey(username));
    // One key: the commands go together; the set never keeps sessions long expired, and goes
    // itself once its newest session is past the absolute timeout.
    await this.redis
      .multi()
      .zadd(key, entry.loginAt, entry.id)
      .zremrangebyscore(key, "-inf", `(${forgetBefore}`)
      .pexpire(key, Math.max(1000, entry.loginAt - forgetBefore))
      .exec();
  }

  async remove(username: string, sessionId: string): Promise<void> {
    await this.redis.zrem(this.keys.userSessions(nameKey(username)), sessionId);
  }

  async list(username: string): Promise<SessionEntry[]> {
    const flat = await this.redis.zrange(this.keys.userSessions(nameKey(username)), "0", "-1", "WITHSCORES");
    const entries: SessionEntry[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) entries.push({ id: flat[i]!, loginAt: Number(flat[i + 1]) });
    return entries;
  }
}
