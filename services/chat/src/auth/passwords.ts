import { randomBytes } from "node:crypto";
import argon2 from "argon2";

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
 */
export class PasswordHasher {
  private dummyHash: Promise<string> | null = null;

  constructor(private readonly params: Argon2Params) {}

  hash(password: string): Promise<string> {
    return argon2.hash(password, { type: argon2.argon2id, ...this.params });
  }

  async verify(hash: string, password: string): Promise<Verification> {
    let ok = false;
    try {
      ok = await argon2.verify(hash, password);
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
    await argon2.verify(await this.dummyHash, password);
    return { ok: false, needsRehash: false };
  }
}
