import type { Redis } from "ioredis";
import { RateLimiterMemory, RateLimiterRedis, type RateLimiterAbstract } from "rate-limiter-flexible";

/**
 * Counts attempts per key in a fixed window (rate-limiter-flexible), in Redis when the node is part
 * of a cluster so every node sees the same counts, in memory otherwise.
 */
export class AttemptThrottle {
  constructor(
    private readonly limiter: RateLimiterAbstract,
    private readonly maxAttempts: number,
  ) {}

  /** Milliseconds until `key` may try again; 0 when it may try now. */
  async retryAfterMs(key: string): Promise<number> {
    const state = await this.limiter.get(key);
    if (!state || state.consumedPoints < this.maxAttempts) return 0;
    return Math.max(1, state.msBeforeNext);
  }

  /** Counts one attempt against `key` (never throws for being over the limit). */
  async record(key: string): Promise<void> {
    await this.limiter.penalty(key, 1);
  }

  async reset(key: string): Promise<void> {
    await this.limiter.delete(key);
  }
}

export type ThrottleFactory = (name: string, maxAttempts: number, windowSec: number) => AttemptThrottle;

export function throttleFactory(redis: Redis | null, keyPrefix: (name: string) => string): ThrottleFactory {
  return (name, maxAttempts, windowSec) => {
    const options = { keyPrefix: keyPrefix(name), points: maxAttempts, duration: windowSec };
    const limiter = redis ? new RateLimiterRedis({ ...options, storeClient: redis }) : new RateLimiterMemory(options);
    return new AttemptThrottle(limiter, maxAttempts);
  };
}
