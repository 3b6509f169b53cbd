/**
 * Logged-in users without logging in: the benches of issue 19 need 50,000 to 100,000 distinct
 * users with a session each, and 100k argon2 logins take half an hour. This fixture writes what a
 * registration and a login leave in Redis, in the server's own formats:
 *
 * - the account, `<prefix>:user:<name>` (services/chat stores/redis/users.ts: username,
 *   passwordHash, createdAt), with one argon2id hash of LOAD_PASSWORD computed once at Sala's
 *   default parameters (so a minted user could log in too). No handshake or presence path reads
 *   the account today except the admin flag (an HGET); the record is there because every real
 *   online user has one, and whatever index a server derives from accounts is then rebuilt by
 *   the operator's repair (`repairIndexes`), the server's own code, rather than guessed here;
 * - the session, `<prefix>:sess:<id>` (stores/redis/keys.ts sessionPrefix), as connect-redis
 *   stores it: express-session's JSON with its cookie, `user` and `loginAt` (http/session.ts
 *   currentUser), expiring after the idle timeout;
 * - the cookie the browser would hold: `sala.sid=s:<id>.<HMAC-SHA256 of the id under
 *   SESSION_SECRET, base64 without padding>`, URI-encoded, as express-session signs it.
 *
 * Every socket opened with such a cookie still passes the real handshake: Origin check, signature,
 * session lookup in Redis, absolute timeout, socket caps.
 */
import { createHmac, randomBytes } from "node:crypto";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import * as argon2 from "@node-rs/argon2";
import { Redis } from "ioredis";
import { nameKey } from "@sala/protocol";
import { LOAD_PASSWORD } from "../accounts.js";
import type { LoadUser } from "../target.js";

/** The session cookie's name (services/chat http/session.ts SESSION_COOKIE). */
const SESSION_COOKIE = "sala.sid";
/** Sala's default argon2id parameters (services/chat config: the OWASP minimum). */
const ARGON2_PARAMS = { memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;
/** Commands per pipeline: big enough to keep Redis busy, small enough not to hold megabytes of replies. */
const PIPELINE = 2000;
const ADMIN_CLI = fileURLToPath(new URL("../../../services/chat/dist/admin/cli.js", import.meta.url));

export interface SessionStore {
  redisUrl: string;
  /** REDIS_PREFIX of the nodes. */
  prefix: string;
  /** SESSION_SECRET of the nodes. */
  secret: string;
  /** SESSION_IDLE_TIMEOUT_SEC of the nodes (default one day): the session key's TTL. */
  idleSec?: number;
}

/** `s:<id>.<signature>` as cookie-signature signs it, URI-encoded as express-session sets it. */
export function signedCookie(sessionId: string, secret: string): string {
  const signature = createHmac("sha256", secret).update(sessionId).digest("base64").replace(/=+$/, "");
  return `${SESSION_COOKIE}=${encodeURIComponent(`s:${sessionId}.${signature}`)}`;
}

/** What express-session saves for a logged-in user (its cookie's JSON, then the session's fields). */
function sessionJson(username: string, loginAt: number, idleMs: number): string {
  const cookie = { originalMaxAge: idleMs, expires: new Date(loginAt + idleMs).toISOString(), secure: false, httpOnly: true, path: "/", sameSite: "lax" };
  return JSON.stringify({ cookie, user: username, loginAt });
}

/**
 * Writes an account and a fresh session for each name (an account already there is overwritten
 * with the same fields) and returns the users with their cookies, in order.
 */
export async function mintUsers(store: SessionStore, names: readonly string[], onProgress?: (done: number) => void): Promise<LoadUser[]> {
  const idleSec = store.idleSec ?? 86_400;
  const passwordHash = await argon2.hash(LOAD_PASSWORD, ARGON2_PARAMS);
  const redis = new Redis(store.redisUrl, { maxRetriesPerRequest: 1 });
  const users: LoadUser[] = [];
  try {
    for (let start = 0; start < names.length; start += PIPELINE / 2) {
      const pipeline = redis.pipeline();
      const now = Date.now();
      for (const username of names.slice(start, start + PIPELINE / 2)) {
        const sessionId = randomBytes(24).toString("base64url"); // express-session's uid-safe(24)
        pipeline.hset(`${store.prefix}:user:${nameKey(username)}`, "username", username, "passwordHash", passwordHash, "createdAt", now);
        pipeline.set(`${store.prefix}:sess:${sessionId}`, sessionJson(username, now, idleSec * 1000), "EX", idleSec);
        users.push({ username, cookie: signedCookie(sessionId, store.secret) });
      }
      const results = (await pipeline.exec()) ?? [];
      const failed = results.find(([error]) => error);
      if (failed) throw new Error(`minting sessions: ${failed[0]!.message}`);
      onProgress?.(users.length);
    }
  } finally {
    redis.disconnect();
  }
  return users;
}

/**
 * `npm run admin -- repair`, as an operator runs it: claims the confusable keys (look-alike
 * checks) of the accounts just written, and rebuilds whatever else the server derives from
 * accounts and rooms. Run it once the nodes are up, so their own start-up repair is done.
 */
export async function repairIndexes(store: SessionStore): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, [ADMIN_CLI, "repair"], {
    env: { PATH: process.env.PATH, REDIS_URL: store.redisUrl, REDIS_PREFIX: store.prefix },
    maxBuffer: 16 * 1024 * 1024,
  });
  return stdout.trim();
}
