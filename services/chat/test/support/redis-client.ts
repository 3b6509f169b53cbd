import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, inject } from "vitest";

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
