import { randomBytes } from "node:crypto";
import * as argon2 from "@node-rs/argon2";
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

// @node-rs/argon2 declares these as const enums (types only, nothing at run time): its values.
const ARGON2ID: argon2.Algorithm = 2;
const VERSION_0X13: argon2.Version = 1;

/**
 * argon2id password hashing, for account passwords and room passwords alike. The work runs on
 * libuv's thread pool, never on the event loop. @node-rs/argon2 rather than the `argon2` package:
 * at the same parameters a verification costs ~13 ms of CPU here instead of ~29 (docs/BENCHMARKS.md);
 * both read and write the standard PHC string, so stored hashes carry over.
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
    return this.limit(() => argon2.hash(password, { algorithm: ARGON2ID, version: VERSION_0X13, ...this.params }));
  }

  async verify(stored: string, password: string): Promise<Verification> {
    let ok = false;
    try {
      ok = await this.limit(() => argon2.verify(stored, password));
    } catch {
      return { ok: false, needsRehash: false }; // a corrupt stored hash never authenticates
    }
    return { ok, needsRehash: ok && this.madeOtherwise(stored) };
  }

  /** The stored hash was not made by argon2id v1.3 with the current memory, time and parallelism. */
  private madeOtherwise(stored: string): boolean {
    const made = argon2.parseOptions(stored);
    const { memoryCost, timeCost, parallelism } = this.params;
    return (
      made.algorithm !== ARGON2ID ||
      made.version !== VERSION_0X13 ||
      made.memoryCost !== memoryCost ||
      made.timeCost !== timeCost ||
      made.parallelism !== parallelism
    );
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
