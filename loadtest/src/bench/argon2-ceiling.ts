/**
 * How many argon2id verifications per second this machine can do at all: Sala's default
 * parameters, one at a time per core, on every core, with nothing else running. A login costs one
 * verification, so this is the ceiling of logins per second before any HTTP, session or Redis
 * work — the figure to read the login target against.
 */
import { availableParallelism } from "node:os";
import * as argon2 from "@node-rs/argon2";

/** Sala's library and defaults (services/chat config: the OWASP minimum); argon2id is the library's default algorithm. */
const PARAMS = { memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export async function argon2Ceiling(verifications = 60): Promise<{ perSec: number; cores: number }> {
  const password = "correct horse battery staple";
  const hash = await argon2.hash(password, PARAMS);
  await argon2.verify(hash, password); // warm-up
  // One at a time per core, at most libuv's four pool threads (argon2 runs there).
  const cores = Math.min(availableParallelism(), 4);
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: cores }, async () => {
      while (next++ < verifications) await argon2.verify(hash, password);
    }),
  );
  return { perSec: verifications / ((performance.now() - start) / 1000), cores };
}
