import { randomBytes } from "node:crypto";
import argon2 from "argon2";
import pLimit, { type LimitFunction } from "p-limit";

export interface Argon2Params {
  memoryCost: number;
  timeCost: number;
  parallelism: number;
}

export interface Verification {
  ok: boolean;
  /** The hash was made with other parameters than the current ones: store a fresh one. */
  needsRehash: boolean;
}

/**
 * argon2id password hashing. The work runs on libuv's thread pool, never on the event loop.
 * Used for account passwords and room passwords alike.
 *
 * At most `concurrency` hashes run at once (default: one per core, at most three). libuv's pool has four
 * threads: on a 2-core machine a login storm otherwise keeps four hashes and the event loop
 * competing for two cores, and every socket event waits for a core (docs/BENCHMARKS.md); the
 * extra hashes would not finish sooner anyway. The others wait their turn in order.
 */
export class PasswordHasher {
  private dummyHash: Promise<string> | null = null;
  private readonly limit: LimitFunction;

  constructor(
    private readonly params: Argon2Params,
    concurrency: number,
  ) {
    this.limit = pLimit(concurrency);
  }

  hash(password: string): Promise<string> {
    return this.limit(() => argon2.hash(password, { type: argon2.argon2id, ...this.params }));
  }

  async verify(hash: string, password: string): Promise<Verification> {
    let ok = false;
    try {
      ok = await this.limit(() => argon2.verify(hash, password));
    } catch {
      return { ok: false, needsRehash: false }; // a corrupt stored hash never authenticates
    }
    return { ok, needsRehash: ok && argon2.needsRehash(hash, this.params) };
  }

  /**
   * Spends the same time as a real verification, for unknown users, so response time does not
   * tell whether an account exists.
   */
  async verifyNothing(password: string): Promise<Verification> {
    this.dummyHash ??= this.hash(randomBytes(16).toString("base64"));
    const dummy = await this.dummyHash;
    await this.limit(() => argon2.verify(dummy, password));
    return { ok: false, needsRehash: false };
  }
}
