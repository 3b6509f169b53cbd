import type { RedisClient } from "../../redis.js";
import type { AuditEntry, AuditStore } from "../types.js";
import type { RedisKeys } from "./keys.js";

/** A capped list of JSON entries, newest first. */
export class RedisAuditStore implements AuditStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
  ) {}

  async append(entry: AuditEntry, keep: number): Promise<void> {
    const results = await this.redis
      .multi()
      .lpush(this.keys.audit, JSON.stringify(entry))
      .ltrim(this.keys.audit, 0, keep - 1)
      .exec();
    const failed = results?.find(([error]) => error);
    if (failed) throw failed[0];
  }

  async recent(limit: number): Promise<AuditEntry[]> {
    const entries = await this.redis.lrange(this.keys.audit, 0, limit - 1);
    return entries.map((entry) => JSON.parse(entry) as AuditEntry);
  }
}
