/**
 * Login storm: many users log in over HTTP at once (after registering, when they are new). Each
 * login is one argon2id verification on the server, so this measures logins per second, and,
 * watched from outside, what the storm does to the event loop.
 */
import { login, register } from "../accounts.js";
import { nodeHttpPost } from "../node-http.js";
import { Samples } from "../stats.js";
import { credentials, inPool, type LoadUser, type Target } from "../target.js";

export interface StormResult {
  count: number;
  seconds: number;
  perSec: number;
  errors: number;
  latency: Samples;
}

async function storm(names: string[], concurrency: number, action: (name: string, i: number) => Promise<void>): Promise<StormResult> {
  const latency = new Samples();
  let errors = 0;
  const start = Date.now();
  await inPool(names, concurrency, async (name, i) => {
    const t0 = Date.now();
    try {
      await action(name, i);
      latency.add(Date.now() - t0);
    } catch {
      errors++;
    }
  });
  const seconds = (Date.now() - start) / 1000;
  return { count: names.length, seconds, perSec: (names.length - errors) / seconds, errors, latency };
}

/** Registers `names` (an existing account is fine), spread over the target's URLs. */
export function registerStorm(target: Target, names: string[], concurrency = 16): Promise<StormResult> {
  return storm(names, concurrency, (name, i) => register(nodeHttpPost, target.urls[i % target.urls.length]!, target.origin, credentials(name)));
}

/** Logs `names` in, spread over the target's URLs; `users` gets each one's session. */
export async function loginStorm(target: Target, names: string[], concurrency = 16): Promise<{ result: StormResult; users: LoadUser[] }> {
  const users: LoadUser[] = [];
  const result = await storm(names, concurrency, async (name, i) => {
    const cookie = await login(nodeHttpPost, target.urls[i % target.urls.length]!, target.origin, credentials(name));
    users[i] = { username: name, cookie };
  });
  return { result, users: users.filter(Boolean) };
}
