import type { RedisClient } from "../redis.js";
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, RateLimiterSQLite, type RateLimiterAbstract } from "rate-limiter-flexible";
import { setImmediate as nextTurn } from "node:timers/promises";
import type { Statement } from "better-sqlite3";
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
  constructor(private readonly limiter: Limiter) {}

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
  constructor(private readonly limiter: Limiter) {}

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

/** What the throttles ask of a rate-limiter-flexible limiter (so one on another thread can stand in). */
export interface Limiter {
  consume(key: string): Promise<RateLimiterRes>;
  reward(key: string, points: number): Promise<RateLimiterRes>;
  delete(key: string): Promise<boolean>;
  block(key: string, seconds: number): Promise<RateLimiterRes>;
  get(key: string): Promise<RateLimiterRes | null>;
}

/** One limiter: its counts' key prefix, the attempts a window allows, the window in seconds. */
export interface LimiterOptions {
  keyPrefix: string;
  points: number;
  duration: number;
}

/**
 * Where the counts live: Redis (every node sees them), the embedded node's SQLite file — on this
 * thread (`sqlite`) or through the node's store thread (`remote`: stores/sqlite/thread) — or memory.
 */
export type ThrottleBackend = { redis: RedisClient } | { sqlite: SqliteDatabase } | { remote: (options: LimiterOptions) => Limiter } | "memory";

/** One table for every SQLite throttle (stores/sqlite/account-tables.ts): the limiter's key prefix keeps them apart. */
const SQLITE_TABLE = "rate_limits";

function limiter(backend: ThrottleBackend, keyPrefix: string, points: number, duration: number): Limiter {
  const options = { keyPrefix, points, duration };
  if (backend === "memory") return new RateLimiterMemory(options);
  if ("redis" in backend) return new RateLimiterRedis({ ...options, storeClient: backend.redis });
  if ("remote" in backend) return backend.remote(options);
  return sqliteLimiter(backend.sqlite, options);
}

/** A limiter counting in the SQLite file's rate_limits table. */
export function sqliteLimiter(db: SqliteDatabase, options: LimiterOptions): RateLimiterAbstract {
  // The table is the schema's; expired rows go by ThrottleSweeper, not by the library's own timer
  // (one unbounded DELETE per limiter without an index, in a timer chain that stops at its first error).
  return new RateLimiterSQLite({ ...options, storeClient: db, storeType: "better-sqlite3", tableName: SQLITE_TABLE, tableCreated: true, clearExpiredByTimeout: false });
}

export function throttleFactory(backend: ThrottleBackend, keyPrefix: (name: string) => string): ThrottleFactory {
  return (name, maxAttempts, windowSec) => new AttemptThrottle(limiter(backend, keyPrefix(name), maxAttempts, windowSec));
}

export function cooldown(backend: ThrottleBackend, keyPrefix: string): Cooldown {
  return new Cooldown(limiter(backend, keyPrefix, 1, 1));
}

/** Rows one sweep step deletes at most: the event loop runs between steps. */
const SWEEP_CHUNK = 500;

/**
 * Deletes the SQLite throttles' expired counts, oldest first, a chunk per turn of the event loop,
 * every `everyMs` (the counts of a password spray from many addresses would otherwise stay).
 * A failed sweep is reported and the next one tries again.
 */
export class ThrottleSweeper {
  private readonly timer: NodeJS.Timeout;
  private readonly step: Statement<[number, number]>;
  private stopped = false;

  constructor(
    db: SqliteDatabase,
    private readonly onError: (error: unknown) => void,
    everyMs = 5 * 60_000,
  ) {
    // By rate_limits_by_expiry.
    this.step = db.prepare(`DELETE FROM ${SQLITE_TABLE} WHERE key IN (SELECT key FROM ${SQLITE_TABLE} WHERE expire IS NOT NULL AND expire < ? ORDER BY expire LIMIT ?)`);
    this.timer = setInterval(() => void this.sweep(), everyMs);
    this.timer.unref();
  }

  /** One sweep: chunks until one comes back short. */
  async sweep(now = Date.now()): Promise<void> {
    try {
      while (!this.stopped && this.step.run(now, SWEEP_CHUNK).changes === SWEEP_CHUNK) await nextTurn();
    } catch (error) {
      this.onError(error);
    }
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }
}
