import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Server } from "node:http";
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from "fastify";
import middie from "@fastify/middie";
import { ErrorCode } from "@sala/protocol";
import { adminSocketPath, type Config } from "./config.js";
import type { Logger } from "./logger.js";
import { connectRedis, redisAnswers, type RedisConnections } from "./redis.js";
import { HashQueue } from "./auth/hash-queue.js";
import { PasswordHasher } from "./auth/passwords.js";
import { cooldown, throttleFactory, type ThrottleBackend } from "./auth/throttle.js";
import { openControlSocket, type ControlSocket } from "./admin/control-socket.js";
import { localNoticeBoard, redisNoticeBoard } from "./admin/notices.js";
import { AdminRoleWatch } from "./admin/role-watch.js";
import { createAdminService } from "./admin/service.js";
import { readAccount } from "./admin/socket-role.js";
import { AccountService } from "./domain/accounts.js";
import { createMemoryStores } from "./stores/memory/index.js";
import { createRedisStores } from "./stores/redis/index.js";
import { RedisKeys } from "./stores/redis/keys.js";
import { checkLayout, checkSchemaVersion, repairInBackground } from "./stores/redis/startup.js";
import type { Stores } from "./stores/types.js";
import { accountRoutes } from "./http/account-routes.js";
import { adminRoutes } from "./http/admin-routes.js";
import { authRoutes } from "./http/auth-routes.js";
import { installErrorHandling } from "./http/error-handler.js";
import { healthRoutes } from "./http/health-routes.js";
import { hopsTrusted, proxyTrust } from "./http/client-address.js";
import { originAllowed } from "./http/origin-guard.js";
import { securityHeaders } from "./http/security-headers.js";
import { webClient } from "./http/web-client.js";
import { sendError } from "./http/replies.js";
import { createSessions, sessionRoom } from "./http/session.js";
import { openDatabase } from "./stores/sqlite/database.js";
import { DataDirInUseError, DataDirLock } from "./stores/sqlite/data-lock.js";
import { storedSessionSecret } from "./stores/sqlite/secret-file.js";
import { createSqliteStores } from "./stores/sqlite/index.js";
import type { LobbyRooms } from "./stores/sqlite/lobby.js";
import { RemoteSessionStore, SqliteThread } from "./stores/sqlite/thread/client.js";
import { Revision } from "./stores/memory/revision.js";
import { handleConnections } from "./realtime/connections.js";
import { EventGate, type EventTable } from "./realtime/event-gate.js";
import { lobbyHandlers } from "./realtime/handlers/lobby.js";
import { conversationHandlers } from "./realtime/handlers/conversations.js";
import { messageHandlers } from "./realtime/handlers/messages.js";
import { roomHandlers } from "./realtime/handlers/rooms.js";
import { IdleRoomReaper } from "./realtime/idle-rooms.js";
import { FirstPageTicker } from "./realtime/first-page-ticker.js";
import { LobbyFeed } from "./realtime/lobby-feed.js";
import { LobbyViews } from "./realtime/lobby-views.js";
import { PresenceTracker } from "./realtime/presence-tracker.js";
import { confirmResumedRooms, resumeRooms } from "./realtime/resume-rooms.js";
import { roomAnnouncer } from "./realtime/room-announcer.js";
import { RoomService } from "./realtime/room-service.js";
import { SessionKeeper } from "./realtime/session-keeper.js";
import { adapterSubscriptionsApplied, createSocketServer } from "./realtime/socket-server.js";
import { applyNotice, followNotices } from "./realtime/admin-notices.js";
import { metricsHandlers } from "./realtime/handlers/metrics.js";
import { SocketCapGuard } from "./realtime/socket-caps.js";
import { SocketRooms } from "./realtime/types.js";
import { NodeMetrics } from "./observability/metrics.js";
import { adminAccess, metricsRoute, startMetricsListener } from "./observability/routes.js";
import { Sampler } from "./observability/sampler.js";
import type { SalaServer } from "./realtime/types.js";

export interface SalaNode {
  config: Config;
  app: FastifyInstance;
  io: SalaServer;
  stores: Stores;
  /** Listens on config.host:config.port; returns the bound port. */
  listen(): Promise<number>;
  /** Stops taking work, takes this node's users offline, closes sockets, HTTP and Redis. */
  close(): Promise<void>;
}

const SESSION_PATHS = ["/register", "/login", "/logout", "/session", "/account", "/admin", "/memory", "/metrics"];

/** Builds one Sala node (not yet listening): embedded without REDIS_URL, a cluster member with it. */
export async function buildNode(given: Config, logger: Logger): Promise<SalaNode> {
  // Embedded on SQLite without SESSION_SECRET: the secret kept in DATA_DIR, so sessions outlive a restart.
  const config: Config =
    given.embeddedStore?.kind === "sqlite" && given.sessionSecretGenerated
      ? { ...given, sessionSecret: storedSessionSecret(join(given.embeddedStore.dataDir, "session-secret")), sessionSecretGenerated: false }
      : given;
  // Filled in once the socket server exists; the counters need them only when scraped.
  const live = { sockets: () => 0, rooms: () => 0 };
  const metrics = new NodeMetrics(config.nodeId, { sockets: () => live.sockets(), rooms: () => live.rooms() });
  const redis: RedisConnections | null = config.redis
    ? await connectRedis(config.redis, logger, () => metrics.redisErrors.inc())
    : null;
  const keys = new RedisKeys(config.redis?.prefix ?? "sala");
  if (redis) {
    try {
      await checkLayout(redis.command, keys);
      await checkSchemaVersion(redis.command, keys, logger);
    } catch (error) {
      await redis.close();
      throw error;
    }
  }
  // Cluster: the room store publishes each message it accepts to every node's adapter itself —
  // unless messages wait for replicas (REDIS_WAIT_REPLICAS): then the handler delivers them after.
  const replicaWait = config.redis ? { replicas: config.redis.waitReplicas, timeoutMs: config.redis.waitTimeoutMs } : undefined;
  // Embedded: the SQLite file under DATA_DIR (remembers across restarts), or STORE=memory.
  const dataLock = config.embeddedStore?.kind === "sqlite" ? lockDataDir(config.embeddedStore.dataDir) : null;
  const sqlite = config.embeddedStore?.kind === "sqlite" ? await startSqliteThread(config.embeddedStore.file, config, logger).catch(giveBack(dataLock)) : null;
  const stores = redis
    ? createRedisStores(redis.command, keys, { announceRoomMessage: roomAnnouncer(keys.prefix), messageIdWindowSec: config.messageIdWindowSec, replicaWait })
    : sqlite
      ? createSqliteStores(
          {
            users: sqlite.thread.remote("users"),
            sessionIndex: sqlite.thread.remote("sessionIndex"),
            audit: sqlite.thread.remote("audit"),
            rooms: sqlite.thread.remote("rooms"),
            conversations: sqlite.thread.remote("conversations"),
          },
          sqlite.thread.remote<LobbyRooms>("lobbyRooms"),
          sqlite.revision,
        )
      : createMemoryStores();
  const throttleBackend: ThrottleBackend = redis ? { redis: redis.command } : sqlite ? { remote: (options) => sqlite.thread.limiter(options) } : "memory";
  // Logins and registrations hash in the account lane, ahead of room passwords (forRoomPasswords).
  const hasher = new PasswordHasher(config.argon2, new HashQueue(config.hashConcurrency, config.hashQueueMax));
  const throttle = throttleFactory(throttleBackend, (name) => keys.rateLimit(name));
  const { loginThrottle: login, roomPasswordThrottle: roomPw } = config;
  const accounts = new AccountService({
    users: stores.users,
    hasher,
    logins: {
      byUserAndIp: throttle("login-user-ip", login.maxFailsPerUserIp, login.windowSec),
      byIp: throttle("login-ip", login.maxFailsPerIp, login.windowSec),
      byUser: throttle("login-user", login.maxFailsPerUser, login.windowSec),
      delays: cooldown(throttleBackend, keys.rateLimit("login-delay")),
      delayMaxSec: login.delayMaxSec,
    },
    registrationsByIp: throttle("register-ip", config.registrationsPerIp, config.registrationWindowSec),
    logger,
    onLogin: (result) => metrics.logins.inc({ result }),
  });
  const sessions = createSessions(config, redis?.command ?? null, keys.sessionPrefix, logger, sqlite && new RemoteSessionStore(sqlite.thread));

  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    trustProxy: typeof config.trustProxy === "number" ? hopsTrusted(config.trustProxy) : config.trustProxy,
    bodyLimit: 16 * 1024,
    // One log line per request, written by the onResponse hook below.
    logController: new LogController({ disableRequestLogging: true }),
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false } },
  });
  let draining = false;
  installErrorHandling(app);
  app.addHook("onRequest", async (request, reply) => {
    const safe = request.method === "GET" || request.method === "HEAD" || request.method === "OPTIONS";
    if (!safe && !originAllowed(request.raw, config.allowedOrigins)) {
      return sendError(reply, { code: ErrorCode.BAD_ORIGIN, message: "Requests from this origin are not accepted" });
    }
  });
  app.addHook("onResponse", async (request, reply) => {
    const health = request.url === "/healthz" || request.url === "/readyz";
    request.log[health ? "debug" : "info"](
      { event: "http", method: request.method, url: request.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime) },
      "http request",
    );
  });
  await app.register(securityHeaders, { tls: config.cookieSecure });
  await app.register(middie);
  app.use(SESSION_PATHS, sessions.middleware);

  const io = createSocketServer(app.server, config, sessions, redis, logger, (count) => metrics.deliveries.inc(count));
  io.use(readAccount(stores.users, logger));
  const adminRoles = new AdminRoleWatch(io, stores.users, logger);
  // Operators' actions reach every node's sockets through notices (admin/notices.ts).
  const notices = redis ? redisNoticeBoard(redis.command, keys) : localNoticeBoard((notice) => applyNotice(io, notice));
  if (redis) await followNotices(redis.sub, keys.adminNotices, io, logger);
  const adminService = createAdminService({
    stores,
    sessionStore: sessions.store,
    notices,
    hashPassword: (password) => hasher.hash(password),
    nodeTtlMs: config.nodeTtlMs,
    logger,
  });
  await app.register(authRoutes, {
    accounts,
    users: stores.users,
    sessionIndex: stores.sessionIndex,
    sessionAbsoluteMs: config.sessionAbsoluteMs,
    cookieSecure: config.cookieSecure,
    endSessionSockets: async (user, sessionId, reason) => {
      try {
        await notices.publish({ kind: "end_sessions", user, sessionRooms: [sessionRoom(sessionId)], reason });
      } catch (error) {
        // The session is gone from the store all the same: its sockets close at the session keeper's next sweep.
        logger.warn({ event: "end_session_notice_failed", user, err: (error as Error).message }, "could not tell the nodes a session ended");
      }
    },
  });
  await app.register(accountRoutes, {
    accounts,
    users: stores.users,
    admin: adminService,
    hashPassword: (password, caller) => hasher.hash(password, caller),
    sessionAbsoluteMs: config.sessionAbsoluteMs,
    cookieSecure: config.cookieSecure,
  });
  await app.register(healthRoutes, {
    nodeId: config.nodeId,
    isDraining: () => draining,
    pingSharedState: async () => {
      if (redis) await redisAnswers(redis);
      // Embedded: not a ping through the thread, which would wait behind a commit stalled on the
      // disk and turn the only node away; only a thread that is gone makes it unready.
      sqlite?.thread.assertAvailable();
    },
  });
  const access = (request: FastifyRequest) => adminAccess(request, stores.users, config.sessionAbsoluteMs);
  await app.register(metricsRoute, { metrics, access });
  await app.register(adminRoutes, { admin: adminService, access });
  await app.register(webClient, { webDir: config.webDir, guarded: { "/memory": access, "/admin": access } });
  live.sockets = () => io.of("/").sockets.size;
  live.rooms = () => {
    let count = 0;
    for (const room of io.of("/").adapter.rooms.keys()) if (SocketRooms.isRoom(room)) count++;
    return count;
  };

  const subscriptionsApplied = adapterSubscriptionsApplied(redis);
  const lobbyFeed = new LobbyFeed(io, { flushMs: config.lobbyFlushMs, countsMs: config.lobbyCountsMs }, logger);
  const firstPage = new FirstPageTicker(io, stores.lobby, stores.rooms, { pageSize: config.lobbyPageSize, tickMs: config.lobbyTickMs, sendsPerSec: config.lobbySendsPerSec }, logger);
  const roomService = new RoomService({
    rooms: stores.rooms,
    lobby: stores.lobby,
    users: stores.users,
    io,
    lobbyFeed,
    hasher: hasher.forRoomPasswords(),
    roomPasswords: throttle("room-password", roomPw.maxFails, roomPw.windowSec),
    roomCreations: throttle("room-create", config.roomLimits.creationsPerWindow, config.roomLimits.creationWindowSec),
    maxOwnedRooms: config.roomLimits.maxOwned,
    joinHistory: config.history.onJoin,
    historyMax: config.history.max,
    historyMaxAgeMs: config.history.maxAgeMs,
    subscriptionsApplied,
    logger,
  });
  const idleRooms = new IdleRoomReaper(roomService, config.roomLimits.idleExpiryMs, logger);
  const presence = new PresenceTracker({
    presence: stores.presence,
    nodeId: config.nodeId,
    lobbyFeed,
    onUserOffline: async (username) => {
      await Promise.all([roomService.memberPresence(username, false), stores.users.recordSeen(username, Date.now(), false)]);
    },
    onUserOnline: (username) => roomService.memberPresence(username, true),
    heartbeatIntervalMs: config.heartbeatIntervalMs,
    nodeTtlMs: config.nodeTtlMs,
    graceMs: config.presenceGraceMs,
    logger,
  });
  const historyCap = { maxMessages: config.history.max, maxAgeMs: config.history.maxAgeMs };
  const lobbyViews = new LobbyViews({
    lobby: stores.lobby,
    rooms: stores.rooms,
    conversations: stores.conversations,
    subscriptionsApplied,
    pageSize: config.lobbyPageSize,
    firstPage: (since) => firstPage.current(since),
  });
  const gate = new EventGate(
    {
      ...lobbyHandlers({ lobbyViews }),
      ...roomHandlers({ roomService, lobbyViews }),
      ...messageHandlers({
        rooms: stores.rooms,
        typingThrottleMs: config.typingThrottleMs,
        historyCap,
        onAccepted: () => metrics.messagesAccepted.inc(),
      }),
      ...conversationHandlers({
        conversations: stores.conversations,
        users: stores.users,
        historyCap,
        openHistory: config.history.onJoin,
        followPartner: (socket, partner) => lobbyViews.followPartner(socket, partner),
      }),
      ...metricsHandlers({ samples: stores.samples, nodeTtlMs: config.nodeTtlMs, windowSec: config.metrics.windowSec }),
    } satisfies EventTable,
    config.socketEventsPerSec,
    logger,
    {
      answered: (event, seconds) => metrics.ackLatency.observe({ event }, seconds),
      unavailable: () => metrics.redisErrors.inc(),
    },
  );
  // A draining node takes no new sockets, even over a proxy's kept-alive connection: the client
  // retries and lands on another node.
  io.use((_socket, next) => next(draining ? new Error(ErrorCode.UNAVAILABLE) : undefined));
  io.use(resumeRooms(stores.rooms, subscriptionsApplied));
  const socketCaps = new SocketCapGuard({
    store: stores.socketCounts,
    nodeId: config.nodeId,
    caps: config.socketCaps,
    trust: proxyTrust(config.trustProxy),
    heartbeatIntervalMs: config.heartbeatIntervalMs,
    nodeTtlMs: config.nodeTtlMs,
    logger,
  });
  // Last: a socket it counts is connected, never refused afterwards (see SocketCapGuard).
  io.use(socketCaps.admit);
  handleConnections({ io, gate, presence, lobbyViews, confirmResumedRooms: confirmResumedRooms(stores.rooms, logger), logger });
  const sampler = new Sampler({
    nodeId: config.nodeId,
    metrics,
    samples: stores.samples,
    live,
    publish: (sample) => io.to(SocketRooms.metricsViewers).emit("metrics_sample", sample),
    windowSec: config.metrics.windowSec,
    nodeTtlMs: config.nodeTtlMs,
    logger,
  });
  let metricsListener: Server | null = null;
  let controlSocket: ControlSocket | null = null;
  const sessionKeeper = new SessionKeeper(io, sessions, config.sessionIdleMs, config.sessionAbsoluteMs, logger);

  return {
    config,
    app,
    io,
    stores,
    async listen() {
      await presence.start();
      await socketCaps.start();
      sessionKeeper.start();
      sampler.start();
      adminRoles.start();
      idleRooms.start();
      lobbyFeed.start();
      firstPage.start();
      if (redis) void repairInBackground(redis.command, keys, config.nodeId, logger);
      if (config.metrics.port) metricsListener = await startMetricsListener(metrics, config.metrics.host, config.metrics.port);
      await app.listen({ port: config.port, host: config.host });
      const address = app.server.address();
      const port = typeof address === "object" && address ? address.port : config.port;
      // Embedded: the admin CLI reaches the in-process user store through this socket.
      if (!redis) {
        controlSocket = await openControlSocket(config.adminSocket ?? adminSocketPath(port), { service: adminService, logger });
        logger.info({ event: "admin_socket_open", path: controlSocket.path }, "admin commands accepted on a Unix socket (npm run admin)");
      }
      const store = !redis ? (sqlite ? "sqlite" : "memory") : redis.cluster ? "redis-cluster" : "redis";
      logger.info(
        { event: "node_started", mode: redis ? "cluster" : "embedded", store, port, host: config.host },
        !redis
          ? `Sala node started (embedded, single node: ${sqlite ? "data kept in SQLite" : "data in memory, gone at exit"})`
          : `Sala node started (cluster member, shared state in ${redis.cluster ? "a Redis Cluster" : "Redis"})`,
      );
      return port;
    },
    /**
     * A graceful drain: /readyz fails and no new connection is accepted; events being handled get
     * their acks; then every socket is closed at the transport level, so clients reconnect by
     * themselves (through the load balancer, to another node) and resume their rooms; their
     * presence gets the grace period, so nobody appears to leave.
     */
    async close() {
      draining = true;
      metrics.draining.set(1);
      sampler.stop();
      adminRoles.stop();
      idleRooms.stop();
      metricsListener?.close();
      await controlSocket?.close();
      const sockets = io.of("/").sockets.size;
      logger.info({ event: "drain_started", sockets }, "draining: no new connections, finishing in-flight events");
      app.server.close(); // stop accepting; open connections go on until closed below
      sessionKeeper.stop();
      await gate.idle(5000);
      await socketCaps.stop().catch((error: unknown) => {
        logger.warn({ event: "socket_counts_stop_failed", err: (error as Error).message }, "could not forget this node's socket counts");
      });
      for (const socket of io.of("/").sockets.values()) socket.conn.close();
      try {
        await presence.stop();
      } catch (error) {
        logger.warn({ event: "presence_stop_failed", err: (error as Error).message }, "could not release presence at shutdown");
      }
      lobbyFeed.close();
      await firstPage.close();
      // io.close() waits for the HTTP server's close, and that for every keep-alive connection: one
      // whose request ended after app.server.close() above (a login answered during the drain) is
      // idle but open until its keep-alive timeout, which held the stop past its 10 s (seen in
      // docker-image.int.test.ts). Idle ones are closed now; whatever still lingers, in 2 s.
      app.server.closeIdleConnections();
      const lingering = setTimeout(() => app.server.closeAllConnections(), 2000);
      await new Promise<void>((resolve) => io.close(() => resolve()));
      clearTimeout(lingering);
      await app.close();
      await redis?.close();
      await sqlite?.thread.stop();
      dataLock?.release(); // after the last write: a clean close also folds the WAL back into the file
      logger.info({ event: "node_stopped", socketsMoved: sockets }, "Sala node stopped");
    },
  };
}

/**
 * The SQLite file's stores on their thread (stores/sqlite/thread/client.ts). The file is opened
 * here once first, so that a new one is made and a file of another schema version is refused
 * (SchemaVersionError) before anything starts; the thread then holds the node's only connection.
 */
async function startSqliteThread(file: string, config: Config, logger: Logger): Promise<{ thread: SqliteThread; revision: Revision }> {
  openDatabase(file).close();
  const revision = new Revision();
  const thread = await SqliteThread.start(
    { file, revision: revision.buffer, messageIdWindowSec: config.messageIdWindowSec, sessionIdleMs: config.sessionIdleMs },
    logger,
  );
  return { thread, revision };
}

/** The DATA_DIR for this node alone (stores/sqlite/data-lock.ts); made first, for this user only. */
function lockDataDir(dataDir: string): DataDirLock {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  try {
    return DataDirLock.acquire(dataDir, "a Sala node");
  } catch (error) {
    if (!(error instanceof DataDirInUseError)) throw error;
    const advice = error.byRestore
      ? "a restore is putting a file in place: start the node again once it has printed done"
      : "one node per DATA_DIR — stop that one, or give this one a DATA_DIR of its own";
    throw new DataDirInUseError(`${error.message}: ${advice}`, error.byRestore);
  }
}

/** A start that failed gives the DATA_DIR back: the kernel would only at the process's end (tests start nodes in one process). */
function giveBack(lock: DataDirLock | null): (error: unknown) => never {
  return (error) => {
    lock?.release();
    throw error;
  };
}
