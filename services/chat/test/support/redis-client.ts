import { randomBytes } from "node:crypto";
import { Cluster, Redis } from "ioredis";
import { afterAll, inject } from "vitest";
import { scanKeys } from "../../src/stores/redis/repair.js";

/** A unique key prefix for one test file or case, so runs never see each other's data. */
export function uniquePrefix(label: string): string {
  return `test-${label}-${randomBytes(4).toString("hex")}`;
}

/** A Redis connection to the run's redis-server, closed after the file. */
export function testRedis(): Redis {
  const redis = new Redis(inject("redisUrl"));
  afterAll(() => redis.quit());
  return redis;
}

/** The run's Redis Cluster seed nodes, as ioredis Cluster start nodes. */
export function clusterStartNodes(): Array<{ host: string; port: number }> {
  return inject("redisClusterNodes")
    .split(",")
    .map((seed) => ({ host: seed.slice(0, seed.lastIndexOf(":")), port: Number(seed.slice(seed.lastIndexOf(":") + 1)) }));
}

/** A Cluster client of the run's Redis Cluster (commands go to each key's primary), closed after the file. */
export function testRedisCluster(options: ConstructorParameters<typeof Cluster>[1] = {}): Cluster {
  const cluster = new Cluster(clusterStartNodes(), { scaleReads: "master", ...options });
  afterAll(() => cluster.quit());
  return cluster;
}

/** Every key under `prefix` (SCAN on every primary), sorted: for tests that compare whole data sets. */
export async function keysUnder(redis: Redis | Cluster, prefix: string): Promise<string[]> {
  const found: string[] = [];
  for await (const key of scanKeys(redis, `${prefix}:*`)) found.push(key);
  return found.sort();
}
