import type { RedisClient } from "../redis.js";
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, RateLimiterSQLite, type RateLimiterAbstract } from "rate-limiter-flexible";
import type { SqliteDatabase } from "../stores/sqlite/database.js";

/** One attempt taken: `wait` 0 when allowed, otherwise ms until one will be; `count` in the window, this one included. */
export interface Attempt {
  wait: number;
  count: number;
}

/**
 * Counts attempts per key in a fixed window (rate-limiter-flexible), in Redis when the node is part
 * of a cluster so every node sees the same counts; embedded, in its SQLite file (a restart does not
 * forgive a guessing run) or, with STORE=memory, in memory.
 *
 * An attempt is taken *before* the work it guards (an atomic increment), and given back when it
 * succeeded. Checking first and counting after would let a burst of parallel attempts all pass the
 * check before the first failure is counted.
 */
export class AttemptThrottle {
  constructor(private readonly limiter: RateLimiterAbstract) {}

  /** Takes one attempt for `key`: 0 when allowed, otherwise milliseconds until one will be. */
  async take(key: string): Promise<number> {
    return (await this.attempt(key)).wait;
  }

  /** Takes one attempt for `key`, and says how many the window holds now. */
  async attempt(key: string): Promise<Attempt> {
    try {
      const taken = await this.limiter.consume(key);
      return { wait: 0, count: taken.consumedPoints };
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) return { wait: Math.max(1, rejection.msBeforeNext), count: rejection.consumedPoints };
      throw rejection;
    }
  }

  /** Gives back one attempt taken for `key` (it succeeded, or was not used). */
  async refund(key: string): Promise<void> {
    await this.limiter.reward(key, 1);
  }

  /** Forgets every attempt of `key`. */
  async reset(key: string): Promise<void> {
    await this.limiter.delete(key);
  }
}

/**
 * Keys made to wait: `hold` one for a while, ask how long it still waits. Shared by every node in
 * Redis, like the throttles (a rate-limiter-flexible block, in whole seconds).
 */
export class Cooldown {
  constructor(private readonly limiter: RateLimiterAbstract) {}

  /** `key` waits `ms` from now (rounded up to whole seconds; at least one). */
  async hold(key: string, ms: number): Promise<void> {
    await this.limiter.block(key, Math.max(1, Math.ceil(ms / 1000)));
  }

  /** Milliseconds `key` still waits (0: none). */
  async remaining(key: string): Promise<number> {
    const state = await this.limiter.get(key);
    return state && state.consumedPoints > 0 ? Math.max(0, state.msBeforeNext) : 0;
  }

  async clear(key: string): Promise<void> {
    await this.limiter.delete(key);
  }
}

export type ThrottleFactory = (name: string, maxAttempts: number, windowSec: number) => AttemptThrottle;

/** Where the counts live: Redis (every node sees them), the embedded node's SQLite file, or memory. */
export type ThrottleBackend = { redis: RedisClient } | { sqlite: SqliteDatabase } | "memory";

/** One table for every SQLite throttle: the limiter's key prefix keeps them apart. */
const SQLITE_TABLE = "rate_limits";

function limiter(backend: ThrottleBackend, keyPrefix: string, points: number, duration: number): RateLimiterAbstract {
  const options = { keyPrefix, points, duration };
  if (backend === "memory") return new RateLimiterMemory(options);
  if ("redis" in backend) return new RateLimiterRedis({ ...options, storeClient: backend.redis });
  // The table is created at once (better-sqlite3 is synchronous); expired rows are cleared hourly.
  return new RateLimiterSQLite({ ...options, storeClient: backend.sqlite, storeType: "better-sqlite3", tableName: SQLITE_TABLE, clearExpiredByTimeout: true });
}

export function throttleFactory(backend: ThrottleBackend, keyPrefix: (name: string) => string): ThrottleFactory {
  return (name, maxAttempts, windowSec) => new AttemptThrottle(limiter(backend, keyPrefix(name), maxAttempts, windowSec));
}

export function cooldown(backend: ThrottleBackend, keyPrefix: string): Cooldown {
  return new Cooldown(limiter(backend, keyPrefix, 1, 1));
}
