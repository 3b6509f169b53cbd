import type { ChainableCommander } from "ioredis";
import type { RedisClient } from "../../redis.js";

/**
 * Reads something about each of many items (rooms, conversations) whose keys live in different
 * hash tags. On one Redis server, one pipeline for all (one round trip); on a Redis Cluster, a
 * pipeline may hold the keys of one slot only, so each item gets its own (its commands share the
 * item's tag), all sent at once. Answers each item's replies in order; the first error throws.
 */
export async function readEach<T>(redis: RedisClient, items: T[], read: (pipeline: ChainableCommander, item: T) => void): Promise<unknown[][]> {
  if (items.length === 0) return [];
  if (redis.isCluster) {
    return Promise.all(
      items.map(async (item) => {
        const pipeline = redis.pipeline();
        read(pipeline, item);
        return replies((await pipeline.exec()) ?? []);
      }),
    );
  }
  const pipeline = redis.pipeline();
  const counts = items.map((item) => {
    const before = pipeline.length;
    read(pipeline, item);
    return pipeline.length - before;
  });
  const all = replies((await pipeline.exec()) ?? []);
  let at = 0;
  return counts.map((count) => all.slice(at, (at += count)));
}

function replies(results: Array<[error: Error | null, value: unknown]>): unknown[] {
  return results.map(([error, value]) => {
    if (error) throw error;
    return value;
  });
}
