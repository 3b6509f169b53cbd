import type { Server as HttpServer, IncomingMessage, ServerResponse } from "node:http";
import { Server, type Namespace } from "socket.io";
import { createShardedAdapter } from "@socket.io/redis-adapter";
import { Adapter } from "socket.io-adapter";
import { ErrorCode } from "@sala/protocol";
import type { Config } from "../config.js";
import type { Logger } from "../logger.js";
import type { RedisConnections } from "../redis.js";
import { originAllowed } from "../http/origin-guard.js";
import { engineSecurityHeaders } from "../http/security-headers.js";
import { currentUser, sessionUser, type Sessions } from "../http/session.js";
import { countingDeliveries } from "./delivery-count.js";
import { adapterChannelPrefix } from "./room-announcer.js";
import type { SalaServer, SalaSocket } from "./types.js";

/** Why a handshake without a usable session is refused: logged out, or bound to change the password first. */
function refusal(req: IncomingMessage, absoluteMs: number): ErrorCode {
  return sessionUser(req, absoluteMs) !== null ? ErrorCode.PASSWORD_CHANGE_REQUIRED : ErrorCode.UNAUTHORIZED;
}

type EngineRequest = IncomingMessage & { _query?: Record<string, string> };

/** The stand-in response engine.io made for each websocket upgrade that loaded a session. */
const upgradeResponses = new WeakMap<IncomingMessage, { req?: unknown }>();

/** What socket.handshake holds instead of the request's headers, query and auth once connected. */
const RELEASED = Object.freeze({});

/**
 * Lets the handshake request go once the socket is connected. Engine.io keeps it for the socket's
 * life (socket.request), and for a websocket upgrade its stand-in response keeps it too (a close
 * listener on the TCP socket holds the response), and with it everything hung on the request, the
 * session among them. Nothing reads it after the connect: socket.data has what the session keeper
 * needs.
 *
 * Socket.IO's socket.handshake copies the request's headers object, URL, query and the client's
 * auth, and keeps them for the socket's life, though only the handshake middlewares read them
 * (resume-rooms.ts; nothing here calls fetchSockets, the one other reader): about 0.5 KB per idle
 * socket of the sockets-100k bench, whose clients send few headers, more from a browser (its
 * user agent, languages, all its cookies).
 */
function releaseHandshake(socket: SalaSocket): void {
  const req = socket.request;
  const res = upgradeResponses.get(req);
  if (res) {
    upgradeResponses.delete(req);
    res.req = undefined;
  }
  (socket.conn as { request: unknown }).request = null;
  const handshake = socket.handshake as { headers: object; url: string; query: object; auth: object };
  handshake.headers = RELEASED;
  handshake.url = "";
  handshake.query = RELEASED;
  handshake.auth = RELEASED;
}

/**
 * Socket.IO on the node's HTTP server. Cross-node fan-out uses the sharded Redis adapter (Redis 7
 * sharded pub/sub; measured cheaper per delivery than the classic adapter, and the path to Redis
 * Cluster). The handshake must come from an allowed origin and carry a valid session cookie, and
 * without both no Engine.IO session is even opened (allowRequest). Every /socket.io/ response
 * carries the node's security headers.
 */
export function createSocketServer(
  httpServer: HttpServer,
  config: Config,
  sessions: Sessions,
  redis: RedisConnections | null,
  logger: Logger,
  /** Told how many of this node's sockets each room message (`text`) reaches. */
  onDeliveries: (count: number) => void = () => {},
): SalaServer {
  const io: SalaServer = new Server(httpServer, {
    serveClient: false,
    maxHttpBufferSize: config.maxHttpBufferBytes,
    cors: { origin: config.allowedOrigins, credentials: true },
    // Engine.IO runs its middlewares (the session loader below) first, then this, for a request
    // without a sid; a refusal is answered (403 for polling, 400 for a websocket upgrade) before
    // any Engine.IO session exists. CORS does not apply to websockets: the Origin check is ours.
    allowRequest: (req, callback) => {
      if (!originAllowed(req, config.allowedOrigins)) {
        logger.warn({ event: "handshake_bad_origin", origin: req.headers.origin }, "handshake from a foreign origin refused");
        callback(ErrorCode.BAD_ORIGIN, false);
        return;
      }
      // Not even a transport for a request without a logged-in session: an anonymous client can
      // hold no Engine.IO session (and its buffers and timers) while io.use would refuse it anyway.
      const signedIn = currentUser(req, config.sessionAbsoluteMs) !== null && req.sessionID !== undefined;
      callback(signedIn ? null : refusal(req, config.sessionAbsoluteMs), signedIn);
    },
  });
  const adapter = redis
    ? createShardedAdapter(redis.pub, redis.sub, { channelPrefix: adapterChannelPrefix(config.redis?.prefix ?? "sala"), subscriptionMode: "dynamic" })
    : (nsp: Namespace) => new Adapter(nsp);
  io.adapter(countingDeliveries(adapter, "text", onDeliveries));

  // First, so that every answer carries them, a refusal's included.
  io.engine.use(engineSecurityHeaders(config.cookieSecure));
  // The session is read once, at the handshake request (later polling requests reuse the socket),
  // and only for an allowed origin: engine.io runs these middlewares before allowRequest, and a
  // foreign page must not even get its session looked up.
  io.engine.use((req: EngineRequest, res: ServerResponse, next: (error?: unknown) => void) => {
    if (req._query?.sid === undefined && originAllowed(req, config.allowedOrigins)) {
      // Only an upgrade's stand-in response outlives its request; a polling handshake's real
      // response is finished and let go by Node's HTTP server.
      if (req.headers.upgrade) upgradeResponses.set(req, res as unknown as { req?: unknown });
      sessions.loadForHandshake(req).then(() => next(), next);
    } else next();
  });

  io.use((socket, next) => {
    const req = socket.request;
    const username = currentUser(req, config.sessionAbsoluteMs);
    if (!username || !req.sessionID) {
      next(new Error(refusal(req, config.sessionAbsoluteMs)));
      return;
    }
    socket.data = {
      username,
      isAdmin: false, // read from the user store by the next middleware (admin/socket-role.ts)
      // currentUser() has checked loginAt.
      session: { id: req.sessionID, loginAt: req.session!.loginAt ?? 0, cookie: req.session!.cookie },
    };
    next();
  });
  io.on("connection", releaseHandshake);
  return io;
}

/**
 * Waits until Redis has applied every channel subscription this node's adapter has asked for so
 * far. The sharded adapter subscribes to a room's channel when the room gets its first socket on
 * the node, without waiting for Redis: a message published before Redis applies that SSUBSCRIBE
 * does not reach the node. Redis answers an SSUBSCRIBE once it is in effect, on the shard that owns
 * the channel (a PING on another connection would prove nothing on a Redis Cluster), so this waits
 * for the replies still outstanding. A join waits for this before reading history, so every
 * message is in the history it reads or delivered live.
 *
 * Never fails and never waits longer than `timeoutMs`: while the subscriber connection is down it
 * resubscribes to every channel when it is back, and clients fetch what they missed meanwhile by
 * their sequence gaps (docs/PROTOCOL.md 1.10), as before.
 */
export function adapterSubscriptionsApplied(redis: RedisConnections | null, timeoutMs = 2000): () => Promise<void> {
  if (!redis) return () => Promise.resolve();
  return () => redis.subscriptionsSettled(timeoutMs);
}
