import type { RedisClient } from "../../redis.js";
import type { NodeSample } from "@sala/protocol";
import type { SampleStore } from "../types.js";
import type { RedisKeys } from "./keys.js";

export class RedisSampleStore implements SampleStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
  ) {}

  async record(sample: NodeSample, windowSec: number, ttlMs: number): Promise<void> {
    const key = this.keys.nodeSamples(sample.node);
    await this.redis
      .multi()
      .lpush(key, JSON.stringify(sample))
      .ltrim(key, 0, windowSec - 1)
      .pexpire(key, Math.max(ttlMs, windowSec * 1000))
      .zadd(this.keys.sampledNodes, sample.ts, sample.node)
      .zremrangebyscore(this.keys.sampledNodes, "-inf", sample.ts - Math.max(ttlMs, windowSec * 1000))
      .exec();
  }

  async recent(now: number, ttlMs: number): Promise<NodeSample[]> {
    const nodes = await this.redis.zrangebyscore(this.keys.sampledNodes, now - ttlMs, "+inf");
    if (nodes.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const node of nodes) pipeline.lrange(this.keys.nodeSamples(node), 0, -1);
    const lists = (await pipeline.exec()) ?? [];
    return lists.flatMap(([error, entries]) => (error ? [] : (entries as string[]).map((entry) => JSON.parse(entry) as NodeSample).reverse()));
  }
}
