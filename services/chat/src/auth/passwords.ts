import { randomBytes } from "node:crypto";
import * as argon2 from "@node-rs/argon2";
import { HashQueue, type HashLane } from "./hash-queue.js";

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
 * extra hashes would not finish sooner anyway. The others wait in a bounded queue (HashQueue):
 * account work first, room passwords after; a hash that finds its lane full is answered at once
 * with BUSY. This hasher works in the account lane; forRoomPasswords() gives the room lane's.
 */
export class PasswordHasher {
  private dummyHash: Promise<string> | null = null;
  private readonly queue: HashQueue;

  constructor(
    private readonly params: Argon2Params,
    /** Hashes at once (a new queue), or the queue to share with another lane's hasher. */
    concurrencyOrQueue: number | HashQueue,
    private readonly lane: HashLane = "account",
  ) {
    this.queue = typeof concurrencyOrQueue === "number" ? new HashQueue(concurrencyOrQueue) : concurrencyOrQueue;
  }

  /**
   * The same hasher, queue and slots for room passwords: it waits behind account work (a login is
   * never stuck behind a flood of private rooms) and its waiting line is bounded on its own.
   */
  forRoomPasswords(): PasswordHasher {
    return new PasswordHasher(this.params, this.queue, "room");
  }

  /**
   * `caller` (a username) limits how many of that caller's hashes may wait or run at once in this
   * lane (HASHES_PER_CALLER); more are refused with BUSY. Throws BUSY when the lane is full.
   */
  hash(password: string, caller?: string): Promise<string> {
    return this.queue.run(this.lane, () => argon2.hash(password, { algorithm: ARGON2ID, version: VERSION_0X13, ...this.params }), caller);
  }

  /** Throws BUSY (nothing verified) when the lane is full; see hash() for `caller`. */
  async verify(stored: string, password: string, caller?: string): Promise<Verification> {
    const ok = await this.queue.run(this.lane, () => verifyOrFalse(stored, password), caller);
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
    // Made once; a BUSY refusal is not kept, or every later unknown-user login would fail with it.
    this.dummyHash ??= this.hash(randomBytes(16).toString("base64")).catch((error: unknown) => {
      this.dummyHash = null;
      throw error;
    });
    const dummy = await this.dummyHash;
    await this.queue.run(this.lane, () => argon2.verify(dummy, password));
    return { ok: false, needsRehash: false };
  }
}

/** A corrupt stored hash never authenticates (argon2 throws on it). */
async function verifyOrFalse(stored: string, password: string): Promise<boolean> {
  try {
    return await argon2.verify(stored, password);
  } catch {
    return false;
  }
}
