/**
 * Configuration from the environment, validated once at start. A bad value stops the process with
 * a message naming the variable; nothing reads process.env anywhere else.
 */
import { availableParallelism, hostname } from "node:os";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { randomBytes } from "node:crypto";
import envSchema from "env-schema";
import { Type, type Static } from "@sinclair/typebox";

const EnvSchema = Type.Object({
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000 }),
  HOST: Type.String({ minLength: 1, default: "127.0.0.1" }),
  NODE_ENV: Type.String({ default: "development" }),
  LOG_LEVEL: Type.Union(
    ["fatal", "error", "warn", "info", "debug", "trace", "silent"].map((level) => Type.Literal(level)),
    { default: "info" },
  ),
  /** Absent: embedded mode (one node, in-process stores). Present: cluster member. */
  REDIS_URL: Type.Optional(Type.String({ pattern: "^rediss?://" })),
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
  LOGIN_MAX_FAILS_PER_IP: Type.Integer({ minimum: 1, default: 100 }),
  LOGIN_MAX_FAILS_PER_USER: Type.Integer({ minimum: 1, default: 10 }),
  LOGIN_THROTTLE_WINDOW_SEC: Type.Integer({ minimum: 1, default: 900 }),
  REGISTRATIONS_PER_IP: Type.Integer({ minimum: 1, default: 20 }),
  REGISTRATION_WINDOW_SEC: Type.Integer({ minimum: 1, default: 3600 }),
  ROOM_PASSWORD_MAX_FAILS: Type.Integer({ minimum: 1, default: 5 }),
  ROOM_PASSWORD_WINDOW_SEC: Type.Integer({ minimum: 1, default: 300 }),
  SOCKET_EVENTS_PER_SEC: Type.Integer({ minimum: 1, default: 30 }),
  MESSAGE_ID_WINDOW_SEC: Type.Integer({ minimum: 60, maximum: 86_400, default: 600 }),
  TYPING_THROTTLE_MS: Type.Integer({ minimum: 0, default: 2000 }),
  MAX_HTTP_BUFFER_BYTES: Type.Integer({ minimum: 1024, maximum: 1_048_576, default: 65_536 }),
  HEARTBEAT_INTERVAL_MS: Type.Integer({ minimum: 100, default: 2000 }),
  /** A node whose heartbeat is older than this is dead and its users are swept offline. */
  NODE_TTL_MS: Type.Integer({ minimum: 300, default: 10_000 }),
  PRESENCE_GRACE_MS: Type.Integer({ minimum: 0, maximum: 120_000, default: 5000 }),
  /** Directory of the built web client (index.html + assets). */
  WEB_DIR: Type.Optional(Type.String({ minLength: 1 })),
  /** Comma-separated usernames with the admin role (/memory, /metrics). */
  ADMIN_USERS: Type.String({ default: "" }),
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
});

type Env = Static<typeof EnvSchema>;

export interface Config {
  port: number;
  host: string;
  production: boolean;
  logLevel: string;
  nodeId: string;
  redis: { url: string; prefix: string } | null;
  sessionSecret: string;
  /** True when SESSION_SECRET was absent and a random one was made (embedded mode only). */
  sessionSecretGenerated: boolean;
  trustProxy: boolean | number | string[];
  allowedOrigins: string[];
  cookieSecure: boolean;
  sessionIdleMs: number;
  sessionAbsoluteMs: number;
  argon2: { memoryCost: number; timeCost: number; parallelism: number };
  /** Password hashes computed at once (see PasswordHasher). */
  hashConcurrency: number;
  loginThrottle: { maxFailsPerIp: number; maxFailsPerUser: number; windowSec: number };
  roomPasswordThrottle: { maxFails: number; windowSec: number };
  registrationsPerIp: number;
  registrationWindowSec: number;
  socketEventsPerSec: number;
  typingThrottleMs: number;
  maxHttpBufferBytes: number;
  heartbeatIntervalMs: number;
  nodeTtlMs: number;
  lobbyFlushMs: number;
  presenceGraceMs: number;
  webDir: string;
  /** max: messages kept per room or conversation; onJoin: sent with a join; maxAgeMs: 0 = no age cap. */
  history: { max: number; onJoin: number; maxAgeMs: number };
  /** Seconds a sender's message id is remembered in Redis, so that a retry is not posted twice. */
  messageIdWindowSec: number;
  /** Case-folded usernames with the admin role. */
  adminUsers: Set<string>;
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

export function loadConfig(source: Record<string, string | undefined> = process.env): Config {
  let env: Env;
  try {
    env = envSchema<Env>({ schema: EnvSchema, data: { ...source }, dotenv: false });
  } catch (error) {
    throw new ConfigError(`invalid configuration: ${(error as Error).message}`);
  }
  if (env.REDIS_URL && !env.SESSION_SECRET) {
    throw new ConfigError("SESSION_SECRET (at least 32 characters) is required when REDIS_URL is set: every node must share it");
  }
  if (env.SESSION_ABSOLUTE_TIMEOUT_SEC < env.SESSION_IDLE_TIMEOUT_SEC) {
    throw new ConfigError("SESSION_ABSOLUTE_TIMEOUT_SEC must not be shorter than SESSION_IDLE_TIMEOUT_SEC");
  }
  if (env.NODE_TTL_MS <= env.HEARTBEAT_INTERVAL_MS * 2) {
    throw new ConfigError("NODE_TTL_MS must be more than twice HEARTBEAT_INTERVAL_MS");
  }
  const defaultOrigins = `http://localhost:${env.PORT},http://127.0.0.1:${env.PORT}`;
  return {
    port: env.PORT,
    host: env.HOST,
    production: env.NODE_ENV === "production",
    logLevel: env.LOG_LEVEL,
    nodeId: env.NODE_ID ?? `${hostname()}-${env.PORT}`,
    redis: env.REDIS_URL ? { url: env.REDIS_URL, prefix: env.REDIS_PREFIX } : null,
    sessionSecret: env.SESSION_SECRET ?? randomBytes(32).toString("base64url"),
    sessionSecretGenerated: !env.SESSION_SECRET,
    trustProxy: parseTrustProxy(env.TRUST_PROXY),
    allowedOrigins: parseOrigins(env.ALLOWED_ORIGINS ?? defaultOrigins),
    cookieSecure: env.COOKIE_SECURE,
    sessionIdleMs: env.SESSION_IDLE_TIMEOUT_SEC * 1000,
    sessionAbsoluteMs: env.SESSION_ABSOLUTE_TIMEOUT_SEC * 1000,
    argon2: { memoryCost: env.ARGON2_MEMORY_KIB, timeCost: env.ARGON2_TIME_COST, parallelism: env.ARGON2_PARALLELISM },
    // One per core, and never all four of libuv's pool threads (file and DNS work needs them too).
    hashConcurrency: env.ARGON2_CONCURRENCY ?? Math.min(availableParallelism(), 3),
    loginThrottle: {
      maxFailsPerIp: env.LOGIN_MAX_FAILS_PER_IP,
      maxFailsPerUser: env.LOGIN_MAX_FAILS_PER_USER,
      windowSec: env.LOGIN_THROTTLE_WINDOW_SEC,
    },
    roomPasswordThrottle: { maxFails: env.ROOM_PASSWORD_MAX_FAILS, windowSec: env.ROOM_PASSWORD_WINDOW_SEC },
    registrationsPerIp: env.REGISTRATIONS_PER_IP,
    registrationWindowSec: env.REGISTRATION_WINDOW_SEC,
    socketEventsPerSec: env.SOCKET_EVENTS_PER_SEC,
    typingThrottleMs: env.TYPING_THROTTLE_MS,
    maxHttpBufferBytes: env.MAX_HTTP_BUFFER_BYTES,
    heartbeatIntervalMs: env.HEARTBEAT_INTERVAL_MS,
    nodeTtlMs: env.NODE_TTL_MS,
    lobbyFlushMs: env.LOBBY_FLUSH_MS,
    presenceGraceMs: env.PRESENCE_GRACE_MS,
    history: { max: env.HISTORY_MAX, onJoin: env.JOIN_HISTORY, maxAgeMs: env.HISTORY_MAX_AGE_SEC * 1000 },
    messageIdWindowSec: env.MESSAGE_ID_WINDOW_SEC,
    adminUsers: new Set(env.ADMIN_USERS.split(",").map((name) => name.trim().normalize("NFC").toLowerCase()).filter(Boolean)),
    metrics: { port: env.METRICS_PORT ?? null, host: env.METRICS_HOST, windowSec: env.METRICS_WINDOW_SEC },
    webDir: resolve(env.WEB_DIR ?? fileURLToPath(new URL("../../../web/dist", import.meta.url))),
  };
}
