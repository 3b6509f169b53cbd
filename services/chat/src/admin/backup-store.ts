/**
 * What backup.ts and restore.ts ask of a Redis store as a whole (one server, or every primary of a
 * Redis Cluster): its servers' versions and its keys under a prefix by family; and a bounded window
 * of commands in flight, so that neither side waits a round trip per key nor holds more than a
 * window of values.
 */
import { Cluster } from "ioredis";
import type { RedisClient } from "../redis.js";
import { scanKeys } from "../stores/redis/repair.js";
import { classifyKey, type DataFamily, type OmittedFamily } from "./backup-keys.js";

/** SCAN MATCH treats `*?[]\` as a pattern: a prefix is matched as written. */
export const prefixPattern = (prefix: string) => `${prefix.replace(/[*?[\]\\]/g, "\\$&")}:*`;

/** The servers a SCAN covers: the server, or every primary of the cluster. */
function servers(redis: RedisClient) {
  return redis instanceof Cluster ? redis.nodes("master") : [redis];
}

/** `redis_version` of every server the data is on. */
export async function serverVersions(redis: RedisClient): Promise<string[]> {
  return Promise.all(servers(redis).map(async (server) => /^redis_version:([\d.]+)/m.exec(await server.info("server"))?.[1] ?? "0"));
}

/** < 0 when `a` is older than `b` (`7.0.15` vs `7.2.4`), by major and minor: DUMP's format changes only with them. */
export function compareVersions(a: string, b: string): number {
  const [aMajor = 0, aMinor = 0] = a.split(".").map(Number);
  const [bMajor = 0, bMinor = 0] = b.split(".").map(Number);
  return aMajor - bMajor || aMinor - bMinor;
}

export type StoreTally = Record<DataFamily | OmittedFamily, number>;

export function emptyTally(): StoreTally {
  return { global: 0, room: 0, conversation: 0, user: 0, other: 0, presence: 0, live: 0, session: 0, "rate-limit": 0 };
}

/** The keys under `prefix` by family (but those of `ignore`), and a few data keys to name in a message. */
export async function tallyKeys(redis: RedisClient, prefix: string, ignore: string[] = []): Promise<{ tally: StoreTally; data: number; sample: string[] }> {
  const tally = emptyTally();
  const sample: string[] = [];
  let data = 0;
  for await (const key of scanKeys(redis, prefixPattern(prefix))) {
    if (ignore.includes(key)) continue;
    const found = classifyKey(prefix, key);
    tally[found.family]++;
    if (found.data) {
      data++;
      if (sample.length < 3) sample.push(key);
    }
  }
  return { tally, data, sample };
}

/** `room=12 user=30 …`: the families with a count, in `order`. */
export function formatTally(tally: Partial<Record<string, number>>, order: readonly string[]): string {
  const parts = order.filter((family) => (tally[family] ?? 0) > 0).map((family) => `${family}=${tally[family]}`);
  return parts.length > 0 ? parts.join(" ") : "none";
}

/**
 * Runs `work` over `items` with at most `width` in flight, yielding the results in the items'
 * order. A failure is thrown when its turn comes (the others still in flight are left to settle).
 */
export async function* inOrder<T, R>(items: Iterable<T> | AsyncIterable<T>, width: number, work: (item: T) => Promise<R>): AsyncGenerator<R> {
  const queue: Array<Promise<R>> = [];
  for await (const item of items) {
    const next = work(item);
    next.catch(() => undefined); // observed here; thrown below when its turn comes
    queue.push(next);
    if (queue.length >= width) yield await queue.shift()!;
  }
  while (queue.length > 0) yield await queue.shift()!;
}

/** Deletes every key under `prefix` (all families); → how many. */
export async function deleteAll(redis: RedisClient, prefix: string): Promise<number> {
  let deleted = 0;
  // Collected first: deleting while a SCAN runs is allowed, but the names are few next to the values.
  const names: string[] = [];
  for await (const key of scanKeys(redis, prefixPattern(prefix))) names.push(key);
  for await (const count of inOrder(names, 64, (key) => redis.unlink(key))) deleted += count;
  return deleted;
}
