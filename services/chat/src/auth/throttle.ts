import type { Redis } from "ioredis";
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from "rate-limiter-flexible";

/**
 * Counts attempts per key in a fixed window (rate-limiter-flexible), in Redis when the node is part
 * of a cluster so every node sees the same counts, in memory otherwise.
 *
 * An attempt is taken *before* the work it guards (an atomic increment), and given back when it
 * succeeded. Checking first and counting after would let a burst of parallel attempts all pass the
 * check before the first failure is counted.
 */
export class AttemptThrottle {
  constructor(private readonly limiter: RateLimiterAbstract) {}

  /** Takes one attempt for `key`: 0 when allowed, otherwise milliseconds until one will be. */
  async take(key: string): Promise<number> {
    try {
      await this.limiter.consume(key);
      return 0;
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) return Math.max(1, rejection.msBeforeNext);
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

export type ThrottleFactory = (name: string, maxAttempts: number, windowSec: number) => AttemptThrottle;

export function throttleFactory(redis: Redis | null, keyPrefix: (name: string) => string): ThrottleFactory {
  return (name, maxAttempts, windowSec) => {
    const options = { keyPrefix: keyPrefix(name), points: maxAttempts, duration: windowSec };
    const limiter = redis ? new RateLimiterRedis({ ...options, storeClient: redis }) : new RateLimiterMemory(options);
    return new AttemptThrottle(limiter);
  };
}
