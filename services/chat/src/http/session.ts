import { createHash } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import session, { type SessionData, type Store } from "express-session";
import { parse as parseCookies } from "cookie";
import { unsign } from "cookie-signature";
// connect-redis 8.x is the last line that accepts an ioredis client (9+ speaks only node-redis).
import { RedisStore } from "connect-redis";
import type { RedisClient } from "../redis.js";
import type { RemoteSessionStore } from "../stores/sqlite/thread/client.js";
import type { Config } from "../config.js";
import type { Logger } from "../logger.js";

declare module "express-session" {
  interface SessionData {
    /** Display name of the logged-in user. */
    user: string;
    /** When the user logged in (ms): the absolute timeout counts from here. */
    loginAt: number;
    /** An operator reset the password: this session may only set a new one (POST /account/password). */
    mustChangePassword?: boolean;
  }
}

declare module "node:http" {
  interface IncomingMessage {
    session?: session.Session & Partial<session.SessionData>;
    sessionID?: string;
  }
}

export const SESSION_COOKIE = "sala.sid";

type Middleware = (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void;

export interface Sessions {
  /** express-session, mounted in Fastify (middie) for the HTTP routes. */
  middleware: Middleware;
  /**
   * Loads the session a socket handshake's cookie names onto the request (`sessionID`, `session`),
   * as express-session would, without its per-response machinery (see loadSession).
   */
  loadForHandshake(req: IncomingMessage): Promise<void>;
  store: Store;
  /**
   * Starts the session's idle timeout again (what Session.touch() does); false when the session is
   * no longer in the store (ended elsewhere: a logout, an operator, a password change).
   */
  renew(sessionId: string, cookie: SessionData["cookie"]): Promise<boolean>;
}

/**
 * One express-session instance for HTTP and sockets. The cookie is httpOnly and SameSite=Lax,
 * Secure behind TLS; `rolling` renews it on every request so it expires after the idle timeout;
 * the absolute timeout is enforced from `loginAt` (see currentUser).
 */
export function createSessions(
  config: Config,
  redis: RedisClient | null,
  prefix: string,
  logger: Logger,
  /** The embedded SQLite node's: sessions in its file, through its store thread (its sweep runs there). */
  sqliteStore: RemoteSessionStore | null = null,
): Sessions {
  const idleSec = Math.floor(config.sessionIdleMs / 1000);
  const store: Store = redis ? new RedisStore({ client: redis, prefix, ttl: idleSec }) : (sqliteStore ?? new session.MemoryStore());
  const expressSession = session({
    name: SESSION_COOKIE,
    secret: config.sessionSecret,
    store,
    resave: false,
    saveUninitialized: false,
    rolling: true,
    // Not "destroy": when the store fails to load a session (Redis frozen, a failover), express-session
    // leaves req.session unset, and "destroy" then deleted the session at the end of the error
    // response: the DEL ran once Redis was back, and the user was logged out by a Redis blip.
    // Logout destroys its session itself.
    unset: "keep",
    proxy: config.trustProxy !== false,
    cookie: {
      httpOnly: true,
      sameSite: "lax",
      secure: config.cookieSecure,
      maxAge: config.sessionIdleMs,
      path: "/",
    },
  }) as unknown as Middleware;
  const middleware = nextCalledOnce(expressSession, (error, req) =>
    logger.warn({ event: "session_store_failed", url: req.url, err: (error as Error).message }, "could not save or renew a session after its response"),
  );
  const renew = redis
    ? // EXPIRE answers whether the key exists (connect-redis's touch() would swallow that).
      async (sessionId: string) => (await redis.expire(`${prefix}${sessionId}`, idleSec)) === 1
    : sqliteStore
      ? (sessionId: string, cookie: SessionData["cookie"]) => sqliteStore.renew(sessionId, cookie)
      : (sessionId: string, cookie: SessionData["cookie"]) =>
        new Promise<boolean>((resolve, reject) =>
          store.get(sessionId, (error, data) => {
            if (error) return reject(error);
            if (!data) return resolve(false);
            store.touch!(sessionId, { cookie } as SessionData, () => resolve(true));
          }),
        );
  return { middleware, loadForHandshake: (req) => loadSession(req, store, config.sessionSecret), store, renew };
}

/**
 * Lets a middleware's `next` through once. express-session calls it a second time, with the
 * store's error, when saving, renewing or destroying the session fails at the end of the response
 * (its res.end: `defer(next, err)`). By then @fastify/middie has finished the request and put its
 * per-request state back in a pool: the late call read a released holder (a TypeError on
 * `originalUrl`, thrown from a timer: it ended the process, as a Redis failover showed), and had the
 * holder been reused, it would have moved another request's middleware chain on. The response is
 * sent by then; the error is the store's, and is logged.
 */
export function nextCalledOnce(middleware: Middleware, onLateError: (error: unknown, req: IncomingMessage) => void): Middleware {
  return (req, res, next) => {
    let called = false;
    middleware(req, res, (error?: unknown) => {
      if (!called) {
        called = true;
        next(error);
      } else if (error) {
        onLateError(error, req);
      }
    });
  };
}

/**
 * What express-session does to load a request's session, and nothing more: the signed cookie is
 * checked against the secret (cookie-signature, as express-session does), the session read from
 * the store, and dressed by the store's own createSession. A socket handshake needs only that.
 * The middleware would also wrap the response to renew the cookie and hash the session twice to
 * see whether to save it: about a fifth of a handshake's CPU, for a Set-Cookie on the websocket's
 * 101 response that nothing relies on (the web client renews its cookie over HTTP, and the
 * session keeper renews the sessions of open sockets in the store).
 */
async function loadSession(req: IncomingMessage, store: Store, secret: string): Promise<void> {
  const signed = req.headers.cookie ? parseCookies(req.headers.cookie)[SESSION_COOKIE] : undefined;
  if (!signed?.startsWith("s:")) return;
  const id = unsign(signed.slice(2), secret);
  if (id === false) return;
  const data = await new Promise<SessionData | null | undefined>((resolve, reject) =>
    store.get(id, (error, found) => (error ? reject(error) : resolve(found))),
  );
  if (!data) return;
  // A copy: unsign() returns a slice of the cookie's value, and V8 keeps a slice's whole parent
  // string (the signature too) alive with it, here for the socket's life (socket.data.session):
  // 80 bytes per socket.
  req.sessionID = Buffer.from(id).toString();
  store.createSession(req as Parameters<Store["createSession"]>[0], data);
}

/**
 * The logged-in user of a request's session, or null (absent, past the absolute timeout, or bound
 * to change its password first: such a session reaches nothing else).
 */
export function currentUser(req: IncomingMessage, absoluteMs: number, now = Date.now()): string | null {
  const user = sessionUser(req, absoluteMs, now);
  return user && !req.session!.mustChangePassword ? user : null;
}

/** The session's user whether or not they must change their password first (the password change itself). */
export function sessionUser(req: IncomingMessage, absoluteMs: number, now = Date.now()): string | null {
  const data = req.session;
  if (!data?.user || typeof data.loginAt !== "number") return null;
  if (now - data.loginAt > absoluteMs) return null;
  return data.user;
}

/**
 * How notices name one session (admin/notices.ts `sessionRooms`) without putting its id in them.
 * It was the Socket.IO room of the session's sockets until sockets stopped joining one per session;
 * the notices' field and values kept their form.
 */
export function sessionRoom(sessionId: string): string {
  return `session:${createHash("sha256").update(sessionId).digest("base64url").slice(0, 22)}`;
}

/**
 * What operators are shown of a session (sala-admin users show, the admin page) and give back to
 * end it: a short tag derived from the id, never the id itself (which would let them use it).
 */
export function sessionTag(sessionId: string): string {
  return sessionRoom(sessionId).slice("session:".length, "session:".length + 10);
}

export function promisify(run: (done: (error?: unknown) => void) => void): Promise<void> {
  return new Promise((resolve, reject) => run((error) => (error ? reject(error) : resolve())));
}
