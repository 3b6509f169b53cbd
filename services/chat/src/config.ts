/**
 * Configuration from the environment, validated once at start. A bad value stops the process with
 * a message naming the variable; nothing reads process.env anywhere else.
 */
import { availableParallelism, hostname, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { randomBytes } from "node:crypto";
import envSchema from "env-schema";
import { Type, type Static } from "@sinclair/typebox";
import { LobbyLimits } from "@sala/protocol";
import { defaultHashQueueMax } from "./auth/hash-queue.js";

const EnvSchema = Type.Object({
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000 }),
  HOST: Type.String({ minLength: 1, default: "127.0.0.1" }),
  NODE_ENV: Type.String({ default: "development" }),
  LOG_LEVEL: Type.Union(
    ["fatal", "error", "warn", "info", "debug", "trace", "silent"].map((level) => Type.Literal(level)),
    { default: "info" },
  ),
  /** Absent (and no REDIS_CLUSTER_NODES): embedded mode (one node, in-process stores). Present: cluster member. */
  REDIS_URL: Type.Optional(Type.String({ pattern: "^rediss?://" })),
  /**
   * Seed nodes of a Redis Cluster, comma-separated (`host:port` or `redis://` / `rediss://` URLs):
   * set, the node keeps its shared state on the cluster (never with REDIS_URL).
   */
  REDIS_CLUSTER_NODES: Type.Optional(Type.String({ minLength: 1 })),
  /** Replicas that must hold a message before it is acknowledged and delivered (Redis WAIT; 0: none). */
  REDIS_WAIT_REPLICAS: Type.Integer({ minimum: 0, maximum: 16, default: 0 }),
  /**
   * How long a message waits for REDIS_WAIT_REPLICAS before it is refused as UNAVAILABLE. Below the
   * command connection's 2 s timeout (redis.ts), which would otherwise cut the WAIT short.
   */
  REDIS_WAIT_TIMEOUT_MS: Type.Integer({ minimum: 10, maximum: 1500, default: 1000 }),
  REDIS_PREFIX: Type.String({ pattern: "^[A-Za-z0-9_.-]{1,64}$", default: "sala" }),
  /** Signs session cookies. Required in cluster mode (every node must share it). */
  SESSION_SECRET: Type.Optional(Type.String({ minLength: 32 })),
  NODE_ID: Type.Optional(Type.String({ pattern: "^[A-Za-z0-9_.-]{1,64}$" })),
  /** Fastify trustProxy: "false", "true", a hop count, or a comma-separated list of addresses/CIDRs. */
  TRUST_PROXY: Type.String({ default: "false" }),
  /** Comma-separated origins allowed for the socket handshake and state-changing HTTP requests. */
  ALLOWED_ORIGINS: Type.Optional(Type.String()),
  COOKIE_SECURE: Type.Boolean({ default: false }),
  SESSION_IDLE_TIMEOUT_SEC: Type.Integer({ minimum: 2, default: 86_400 }),
  SESSION_ABSOLUTE_TIMEOUT_SEC: Type.Integer({ minimum: 2, default: 604_800 }),
  // argon2id: never below the OWASP minimum (m=19456 KiB, t=2, p=1).
  ARGON2_MEMORY_KIB: Type.Integer({ minimum: 19_456, maximum: 4_194_304, default: 19_456 }),
  ARGON2_TIME_COST: Type.Integer({ minimum: 2, maximum: 20, default: 2 }),
  ARGON2_PARALLELISM: Type.Integer({ minimum: 1, maximum: 16, default: 1 }),
  /** Password hashes computed at once on this node (default: the number of cores, at most 3). */
  ARGON2_CONCURRENCY: Type.Optional(Type.Integer({ minimum: 1, maximum: 64 })),
  /** Hashes that may wait for a slot, per lane (account, room); more get BUSY. Default: 32 per slot. */
  HASH_QUEUE_MAX: Type.Optional(Type.Integer({ minimum: 0, maximum: 100_000 })),
  // Failed logins per window (domain/accounts.ts LoginThrottles): per account and address, per
  // address, and per account from any address (stops only addresses that failed on it).
  LOGIN_MAX_FAILS_PER_USER_IP: Type.Integer({ minimum: 1, default: 10 }),
  LOGIN_MAX_FAILS_PER_IP: Type.Integer({ minimum: 1, default: 100 }),
  LOGIN_MAX_FAILS_PER_USER: Type.Integer({ minimum: 1, default: 1000 }),
  LOGIN_THROTTLE_WINDOW_SEC: Type.Integer({ minimum: 1, default: 900 }),
  /** Longest wait imposed on an address after a failure on an account under attack (0: none). */
  LOGIN_DELAY_MAX_SEC: Type.Integer({ minimum: 0, maximum: 3600, default: 30 }),
  REGISTRATIONS_PER_IP: Type.Integer({ minimum: 1, default: 20 }),
  REGISTRATION_WINDOW_SEC: Type.Integer({ minimum: 1, default: 3600 }),
  ROOM_PASSWORD_MAX_FAILS: Type.Integer({ minimum: 1, default: 5 }),
  ROOM_PASSWORD_WINDOW_SEC: Type.Integer({ minimum: 1, default: 300 }),
  /** Rooms one user may own at once (0: no limit). */
  MAX_ROOMS_PER_USER: Type.Integer({ minimum: 0, default: 50 }),
  /** Room creations per user per ROOM_CREATION_WINDOW_SEC. */
  ROOM_CREATIONS_PER_USER: Type.Integer({ minimum: 1, default: 10 }),
  ROOM_CREATION_WINDOW_SEC: Type.Integer({ minimum: 1, default: 60 }),
  /** A room without members for this long is deleted (0: never). */
  ROOM_IDLE_EXPIRY_SEC: Type.Integer({ minimum: 0, maximum: 315_360_000, default: 2_592_000 }),
  SOCKET_EVENTS_PER_SEC: Type.Integer({ minimum: 1, default: 30 }),
  /** Sockets one user may hold at once across the cluster (0: no limit). */
  MAX_SOCKETS_PER_USER: Type.Integer({ minimum: 0, maximum: 1_000_000, default: 20 }),
  /** Sockets one client address may hold at once across the cluster (0: no limit). */
  MAX_SOCKETS_PER_ADDRESS: Type.Integer({ minimum: 0, maximum: 1_000_000, default: 500 }),
  MESSAGE_ID_WINDOW_SEC: Type.Integer({ minimum: 60, maximum: 86_400, default: 600 }),
  TYPING_THROTTLE_MS: Type.Integer({ minimum: 0, default: 2000 }),
  MAX_HTTP_BUFFER_BYTES: Type.Integer({ minimum: 1024, maximum: 1_048_576, default: 65_536 }),
  HEARTBEAT_INTERVAL_MS: Type.Integer({ minimum: 100, default: 2000 }),
  /** A node whose heartbeat is older than this is dead and its users are swept offline. */
  NODE_TTL_MS: Type.Integer({ minimum: 300, default: 10_000 }),
  PRESENCE_GRACE_MS: Type.Integer({ minimum: 0, maximum: 120_000, default: 5000 }),
  /** Directory of the built web client (index.html + assets). */
  WEB_DIR: Type.Optional(Type.String({ minLength: 1 })),
  /**
   * No longer supported: admin rights are a flag on an existing account, granted with
   * `npm run admin -- grant-admin NAME`. A node refuses to start while it is set.
   */
  ADMIN_USERS: Type.Optional(Type.String()),
  /**
   * Embedded mode only (no Redis): "sqlite" (default) keeps everything in DATA_DIR/sala.sqlite and
   * remembers across restarts; "memory" keeps it in the process (tests, demos: gone at exit).
   */
  STORE: Type.Optional(Type.Union([Type.Literal("sqlite"), Type.Literal("memory")])),
  /** Embedded SQLite store: the folder of its file (and of its session secret when none is set). */
  DATA_DIR: Type.String({ minLength: 1, default: "./data" }),
  /** Embedded mode: the Unix socket the admin CLI reaches this node on (default: under the OS temp dir, named by port). */
  ADMIN_SOCKET: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  /** When set, /metrics is also served without a session on METRICS_HOST:METRICS_PORT (for Prometheus). */
  METRICS_PORT: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
  METRICS_HOST: Type.String({ default: "127.0.0.1" }),
  /** Seconds of per-second samples kept for /memory viewers. */
  METRICS_WINDOW_SEC: Type.Integer({ minimum: 10, maximum: 3600, default: 300 }),
  /** Messages kept per room (a Redis stream capped at this length). */
  HISTORY_MAX: Type.Integer({ minimum: 10, maximum: 1_000_000, default: 5000 }),
  /**
   * Seconds a stored room message or whisper is kept (0: no age cap). Older ones are never
   * returned and are trimmed from storage (stores/redis/history-stream.ts).
   */
  HISTORY_MAX_AGE_SEC: Type.Integer({ minimum: 0, maximum: 315_360_000, default: 2_592_000 }),
  /** Latest messages a member gets when joining a room. */
  JOIN_HISTORY: Type.Integer({ minimum: 0, maximum: 200, default: 50 }),
  LOBBY_FLUSH_MS: Type.Integer({ minimum: 0, maximum: 5000, default: 200 }),
  LOBBY_COUNTS_MS: Type.Integer({ minimum: 50, maximum: 60_000, default: 2000 }),
  LOBBY_PAGE_SIZE: Type.Integer({ minimum: 1, maximum: LobbyLimits.pageMax, default: LobbyLimits.pageMax }),
  /**
   * Each node reads the lobby's first page and counts this often and sends its lobby sockets what
   * changed (a new socket's snapshot may bring a tick sooner, within LOBBY_SENDS_PER_SEC).
   */
  LOBBY_TICK_MS: Type.Integer({ minimum: 10, maximum: 60_000, default: 1000 }),
  /**
   * Lobby messages (first-page changes, counts) a node sends its lobby sockets per second at most:
   * with more sockets, its ticks slow down. A message to one socket costs a node ≈ 25 µs (a writev
   * each; CPU profile of the sockets-100k bench), so 2,000/s is ≈ 5 % of a core.
   */
  LOBBY_SENDS_PER_SEC: Type.Integer({ minimum: 100, maximum: 1_000_000, default: 2000 }),
});

type Env = Static<typeof EnvSchema>;

/** An embedded node's store: its SQLite file, or the process's memory. */
export type EmbeddedStore = { kind: "sqlite"; dataDir: string; file: string } | { kind: "memory" };

export interface Config {
  port: number;
  host: string;
  production: boolean;
  logLevel: string;
  nodeId: string;
  redis: RedisSettings | null;
  /** Where an embedded node keeps its data (null with Redis, which holds it). */
  embeddedStore: EmbeddedStore | null;
  sessionSecret: string;
  /**
   * True when SESSION_SECRET was absent and a random one was made (embedded mode only). With the
   * SQLite store the node uses the one kept in DATA_DIR instead (stores/sqlite/secret-file.ts).
   */
  sessionSecretGenerated: boolean;
  trustProxy: boolean | number | string[];
  allowedOrigins: string[];
  cookieSecure: boolean;
  sessionIdleMs: number;
  sessionAbsoluteMs: number;
  argon2: { memoryCost: number; timeCost: number; parallelism: number };
  /** Password hashes computed at once (see PasswordHasher). */
  hashConcurrency: number;
  /** Hashes that may wait per lane before BUSY (see HashQueue). */
  hashQueueMax: number;
  loginThrottle: { maxFailsPerUserIp: number; maxFailsPerIp: number; maxFailsPerUser: number; windowSec: number; delayMaxSec: number };
  roomPasswordThrottle: { maxFails: number; windowSec: number };
  /** maxOwned: 0 = no limit; idleExpiryMs: 0 = rooms never expire. */
  roomLimits: { maxOwned: number; creationsPerWindow: number; creationWindowSec: number; idleExpiryMs: number };
  registrationsPerIp: number;
  registrationWindowSec: number;
  socketEventsPerSec: number;
  /** Concurrent sockets per user and per client address, cluster-wide (0: no limit). */
  socketCaps: { perUser: number; perAddress: number };
  typingThrottleMs: number;
  maxHttpBufferBytes: number;
  heartbeatIntervalMs: number;
  nodeTtlMs: number;
  lobbyFlushMs: number;
  /** Member counts are sent to the sockets following a room at most this often (ms). */
  lobbyCountsMs: number;
  /** The first page and the lobby's counts are read, and changes sent, at most this often (ms)… */
  lobbyTickMs: number;
  /** …and slower when a node's lobby sockets would get more than this many messages per second in all. */
  lobbySendsPerSec: number;
  /** Users, and rooms, on the lobby's first page (every socket's snapshot; changes on it reach every lobby socket). */
  lobbyPageSize: number;
  presenceGraceMs: number;
  webDir: string;
  /** max: messages kept per room or conversation; onJoin: sent with a join; maxAgeMs: 0 = no age cap. */
  history: { max: number; onJoin: number; maxAgeMs: number };
  /** Seconds a sender's message id is remembered in Redis, so that a retry is not posted twice. */
  messageIdWindowSec: number;
  /** Embedded mode: the admin CLI's Unix socket; null: adminSocketPath(bound port). */
  adminSocket: string | null;
  metrics: { port: number | null; host: string; windowSec: number };
}

export class ConfigError extends Error {}

function parseTrustProxy(raw: string): Config["trustProxy"] {
  const value = raw.trim();
  if (value === "false" || value === "") return false;
  if (value === "true") return true;
  if (/^\d+$/.test(value)) return Number(value);
  return value.split(",").map((part) => part.trim()).filter(Boolean);
}

function parseOrigins(raw: string): string[] {
  const origins = raw.split(",").map((part) => part.trim()).filter(Boolean);
  for (const origin of origins) {
    let parsed: URL;
    try {
      parsed = new URL(origin);
    } catch {
      throw new ConfigError(`ALLOWED_ORIGINS: "${origin}" is not a URL origin`);
    }
    if (parsed.origin !== origin) throw new ConfigError(`ALLOWED_ORIGINS: "${origin}" should be "${parsed.origin}"`);
  }
  return origins;
}

/**
 * ADMIN_USERS granted admin by name, to whoever registered that name first; admin rights are now
 * a flag on an existing account (`npm run admin -- grant-admin NAME`). Refusing to start, rather
 * than ignoring it, tells the operator at once that their admins need granting.
 */
function refuseAdminUsers(value: string | undefined): void {
  if (value !== undefined && value.trim() !== "") {
    throw new ConfigError(
      "ADMIN_USERS is no longer supported: remove it, and grant admin rights to each existing account with `npm run admin -- grant-admin NAME`",
    );
  }
}

/** Where an embedded node listening on `port` opens the admin CLI's socket unless ADMIN_SOCKET says. */
export function adminSocketPath(port: number): string {
  return join(tmpdir(), `sala-admin-${port}.sock`);
}

/** Where a Redis server or a Redis Cluster's seed node listens, and how to reach it. */
export interface RedisEndpoint {
  host: string;
  port: number;
  tls: boolean;
  username?: string;
  password?: string;
}

/** Shared state: one Redis server (`url`) or a Redis Cluster (`clusterNodes`), under `prefix`. */
export type RedisSettings = { prefix: string; waitReplicas: number; waitTimeoutMs: number } & (
  | { url: string; clusterNodes?: undefined }
  | { url?: undefined; clusterNodes: RedisEndpoint[] }
);

/** Parses REDIS_CLUSTER_NODES: `host:port` or `redis://` / `rediss://` URLs, comma-separated. */
export function parseClusterNodes(raw: string): RedisEndpoint[] {
  const seeds = raw.split(",").map((part) => part.trim()).filter(Boolean);
  if (seeds.length === 0) throw new ConfigError("REDIS_CLUSTER_NODES: no seed node given");
  const nodes = seeds.map((seed) => {
    let url: URL;
    try {
      url = new URL(/^[a-z]+:\/\//i.test(seed) ? seed : `redis://${seed}`);
    } catch {
      throw new ConfigError(`REDIS_CLUSTER_NODES: "${seed}" is not host:port or a redis:// URL`);
    }
    if (url.protocol !== "redis:" && url.protocol !== "rediss:") throw new ConfigError(`REDIS_CLUSTER_NODES: "${seed}" is not a redis:// or rediss:// URL`);
    if (!url.hostname || !url.port) throw new ConfigError(`REDIS_CLUSTER_NODES: "${seed}" needs a host and a port`);
    if (url.pathname !== "" && url.pathname !== "/") throw new ConfigError(`REDIS_CLUSTER_NODES: "${seed}": a Redis Cluster has only database 0`);
    return {
      host: url.hostname.replace(/^\[|\]$/g, ""),
      port: Number(url.port),
      tls: url.protocol === "rediss:",
      ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
      ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
    };
  });
  if (new Set(nodes.map((node) => node.tls)).size > 1) throw new ConfigError("REDIS_CLUSTER_NODES: mixes rediss:// and plain seeds");
  return nodes;
}

/** The shared-state settings of REDIS_URL / REDIS_CLUSTER_NODES (null: embedded). */
function redisSettings(env: Pick<Env, "REDIS_URL" | "REDIS_CLUSTER_NODES" | "REDIS_PREFIX"> & Partial<Pick<Env, "REDIS_WAIT_REPLICAS" | "REDIS_WAIT_TIMEOUT_MS">>): RedisSettings | null {
  if (env.REDIS_URL && env.REDIS_CLUSTER_NODES) {
    throw new ConfigError("set REDIS_URL (one Redis server) or REDIS_CLUSTER_NODES (a Redis Cluster), not both");
  }
  const common = { prefix: env.REDIS_PREFIX, waitReplicas: env.REDIS_WAIT_REPLICAS ?? 0, waitTimeoutMs: env.REDIS_WAIT_TIMEOUT_MS ?? 1000 };
  if (env.REDIS_CLUSTER_NODES) return { ...common, clusterNodes: parseClusterNodes(env.REDIS_CLUSTER_NODES) };
  return env.REDIS_URL ? { ...common, url: env.REDIS_URL } : null;
}

/** What the admin CLI needs: the node's store (REDIS_URL or REDIS_CLUSTER_NODES, REDIS_PREFIX) or, embedded, its socket. */
export interface AdminCliConfig {
  redis: RedisSettings | null;
  adminSocket: string;
  /** Hashes a password an operator sets (users reset-password) as the nodes do. */
  argon2: Config["argon2"];
  /** A node is live while it reported within this (stats). */
  nodeTtlMs: number;
  /** Embedded (no Redis): the node's store, from STORE and DATA_DIR as the node reads them (backup, restore). */
  embeddedStore: EmbeddedStore | null;
}

const AdminCliEnv = Type.Pick(EnvSchema, [
  "REDIS_URL", "REDIS_CLUSTER_NODES", "REDIS_PREFIX", "PORT", "ADMIN_SOCKET", "ARGON2_MEMORY_KIB", "ARGON2_TIME_COST", "ARGON2_PARALLELISM", "NODE_TTL_MS",
  "STORE", "DATA_DIR",
]);

/** The admin CLI's configuration, read from the same variables as a node's. */
export function loadAdminCliConfig(source: Record<string, string | undefined> = process.env): AdminCliConfig {
  let env: Static<typeof AdminCliEnv>;
  try {
    env = envSchema<Static<typeof AdminCliEnv>>({ schema: AdminCliEnv, data: { ...source }, dotenv: false });
  } catch (error) {
    throw new ConfigError(`invalid configuration: ${(error as Error).message}`);
  }
  const redis = redisSettings(env);
  // The node's own rule (loadConfig): STORE is for an embedded node only.
  if (redis && env.STORE) throw new ConfigError("STORE chooses the embedded node's store: it is not used with REDIS_URL or REDIS_CLUSTER_NODES (Redis holds everything)");
  return {
    redis,
    adminSocket: env.ADMIN_SOCKET ?? adminSocketPath(env.PORT),
    argon2: { memoryCost: env.ARGON2_MEMORY_KIB, timeCost: env.ARGON2_TIME_COST, parallelism: env.ARGON2_PARALLELISM },
    nodeTtlMs: env.NODE_TTL_MS,
    embeddedStore: redis ? null : embeddedStoreOf(env),
  };
}

export function loadConfig(source: Record<string, string | undefined> = process.env): Config {
  let env: Env;
  try {
    env = envSchema<Env>({ schema: EnvSchema, data: { ...source }, dotenv: false });
  } catch (error) {
    throw new ConfigError(`invalid configuration: ${(error as Error).message}`);
  }
  refuseAdminUsers(env.ADMIN_USERS);
  const redis = redisSettings(env);
  if (redis && env.STORE) {
    throw new ConfigError("STORE chooses the embedded node's store: it is not used with REDIS_URL or REDIS_CLUSTER_NODES (Redis holds everything)");
  }
  const embeddedStore = redis ? null : embeddedStoreOf(env);
  if (redis && !env.SESSION_SECRET) {
    throw new ConfigError(
      `SESSION_SECRET (at least 32 characters) is required when ${redis.url ? "REDIS_URL" : "REDIS_CLUSTER_NODES"} is set: every node must share it`,
    );
  }
  if (env.SESSION_ABSOLUTE_TIMEOUT_SEC < env.SESSION_IDLE_TIMEOUT_SEC) {
    throw new ConfigError("SESSION_ABSOLUTE_TIMEOUT_SEC must not be shorter than SESSION_IDLE_TIMEOUT_SEC");
  }
  if (env.NODE_TTL_MS <= env.HEARTBEAT_INTERVAL_MS * 2) {
    throw new ConfigError("NODE_TTL_MS must be more than twice HEARTBEAT_INTERVAL_MS");
  }
  const defaultOrigins = `http://localhost:${env.PORT},http://127.0.0.1:${env.PORT}`;
  // One per core, and never all four of libuv's pool threads (file and DNS work needs them too).
  const hashConcurrency = env.ARGON2_CONCURRENCY ?? Math.min(availableParallelism(), 3);
  return {
    port: env.PORT,
    host: env.HOST,
    production: env.NODE_ENV === "production",
    logLevel: env.LOG_LEVEL,
    nodeId: env.NODE_ID ?? `${hostname()}-${env.PORT}`,
    redis,
    embeddedStore,
    sessionSecret: env.SESSION_SECRET ?? randomBytes(32).toString("base64url"),
    sessionSecretGenerated: !env.SESSION_SECRET,
    trustProxy: parseTrustProxy(env.TRUST_PROXY),
    allowedOrigins: parseOrigins(env.ALLOWED_ORIGINS ?? defaultOrigins),
    cookieSecure: env.COOKIE_SECURE,
    sessionIdleMs: env.SESSION_IDLE_TIMEOUT_SEC * 1000,
    sessionAbsoluteMs: env.SESSION_ABSOLUTE_TIMEOUT_SEC * 1000,
    argon2: { memoryCost: env.ARGON2_MEMORY_KIB, timeCost: env.ARGON2_TIME_COST, parallelism: env.ARGON2_PARALLELISM },
    hashConcurrency,
    hashQueueMax: env.HASH_QUEUE_MAX ?? defaultHashQueueMax(hashConcurrency),
    loginThrottle: {
      maxFailsPerUserIp: env.LOGIN_MAX_FAILS_PER_USER_IP,
      maxFailsPerIp: env.LOGIN_MAX_FAILS_PER_IP,
      maxFailsPerUser: env.LOGIN_MAX_FAILS_PER_USER,
      windowSec: env.LOGIN_THROTTLE_WINDOW_SEC,
      delayMaxSec: env.LOGIN_DELAY_MAX_SEC,
    },
    roomPasswordThrottle: { maxFails: env.ROOM_PASSWORD_MAX_FAILS, windowSec: env.ROOM_PASSWORD_WINDOW_SEC },
    roomLimits: {
      maxOwned: env.MAX_ROOMS_PER_USER,
      creationsPerWindow: env.ROOM_CREATIONS_PER_USER,
      creationWindowSec: env.ROOM_CREATION_WINDOW_SEC,
      idleExpiryMs: env.ROOM_IDLE_EXPIRY_SEC * 1000,
    },
    registrationsPerIp: env.REGISTRATIONS_PER_IP,
    registrationWindowSec: env.REGISTRATION_WINDOW_SEC,
    socketEventsPerSec: env.SOCKET_EVENTS_PER_SEC,
    socketCaps: { perUser: env.MAX_SOCKETS_PER_USER, perAddress: env.MAX_SOCKETS_PER_ADDRESS },
    typingThrottleMs: env.TYPING_THROTTLE_MS,
    maxHttpBufferBytes: env.MAX_HTTP_BUFFER_BYTES,
    heartbeatIntervalMs: env.HEARTBEAT_INTERVAL_MS,
    nodeTtlMs: env.NODE_TTL_MS,
    lobbyFlushMs: env.LOBBY_FLUSH_MS,
    lobbyCountsMs: env.LOBBY_COUNTS_MS,
    lobbyPageSize: env.LOBBY_PAGE_SIZE,
    lobbyTickMs: env.LOBBY_TICK_MS,
    lobbySendsPerSec: env.LOBBY_SENDS_PER_SEC,
    presenceGraceMs: env.PRESENCE_GRACE_MS,
    history: { max: env.HISTORY_MAX, onJoin: env.JOIN_HISTORY, maxAgeMs: env.HISTORY_MAX_AGE_SEC * 1000 },
    messageIdWindowSec: env.MESSAGE_ID_WINDOW_SEC,
    adminSocket: env.ADMIN_SOCKET ?? null,
    metrics: { port: env.METRICS_PORT ?? null, host: env.METRICS_HOST, windowSec: env.METRICS_WINDOW_SEC },
    webDir: resolve(env.WEB_DIR ?? fileURLToPath(new URL("../../../web/dist", import.meta.url))),
  };
}

function embeddedStoreOf(env: Pick<Env, "STORE" | "DATA_DIR">): EmbeddedStore {
  if (env.STORE === "memory") return { kind: "memory" };
  const dataDir = resolve(env.DATA_DIR);
  return { kind: "sqlite", dataDir, file: join(dataDir, "sala.sqlite") };
}
