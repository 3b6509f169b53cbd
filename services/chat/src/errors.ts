import { ErrorCode, type ErrorBody } from "@sala/protocol";
import { isSqliteUnavailable } from "./stores/sqlite/error-codes.js";

/** An expected failure with a protocol error code; its message is safe to show to the client. */
export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = "AppError";
  }

  toBody(): ErrorBody {
    return this.retryAfterMs === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, retryAfterMs: this.retryAfterMs };
  }
}

/**
 * Redis errors that mean "try again": the connection or the server is away (closed, refused,
 * timed out, loading, a replica that became read-only), or — on a Redis Cluster — a slot is moving
 * or has no primary for a moment (MOVED/ASK past ioredis' redirections, TRYAGAIN during a
 * resharding, CLUSTERDOWN until a replica is promoted, MASTERDOWN), or no node answers at all; and
 * NOREPLICAS: a message not yet on REDIS_WAIT_REPLICAS replicas (stores/redis/replica-wait.ts).
 * Embedded on SQLite: the store thread gone or overloaded (stores/sqlite/thread/client.ts).
 */
const UNAVAILABLE_PATTERN = new RegExp(
  [
    "Connection is closed", "enableOfflineQueue", "ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "Command timed out",
    "Stream isn't writeable", "max retries per request", "LOADING", "READONLY", "CLUSTERDOWN", "TRYAGAIN", "^MOVED ", "^ASK ",
    "MASTERDOWN", "^NOREPLICAS ", "Too many Cluster redirections", "Cluster isn't ready", "None of startup nodes is available", "Failed to refresh slots cache",
  ].join("|"),
  "i",
);
const UNAVAILABLE_NAMES = new Set(["MaxRetriesPerRequestError", "ClusterAllFailedError", "StoreThreadUnavailableError"]);
/** True for errors that mean "shared state cannot be reached", as opposed to a bug. */
export function isUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  // The embedded node's SQLite file locked past busy_timeout (a backup holding it), the disk full
  // or failing, the file read-only or gone; not a constraint or SQL error: those are bugs (INTERNAL).
  return UNAVAILABLE_NAMES.has(error.name) || UNAVAILABLE_PATTERN.test(error.message) || isSqliteUnavailable((error as { code?: unknown }).code);
}

/** Maps any thrown value to what the client may see. Unexpected errors become INTERNAL. */
export function toErrorBody(error: unknown): ErrorBody {
  if (error instanceof AppError) return error.toBody();
  if (isUnavailable(error)) {
    return { code: ErrorCode.UNAVAILABLE, message: "Sala cannot reach its shared state right now; try again shortly" };
  }
  return { code: ErrorCode.INTERNAL, message: "Something went wrong on our side" };
}

/** HTTP status for each error code. */
export function httpStatusOf(code: ErrorCode): number {
  switch (code) {
    case ErrorCode.BAD_REQUEST:
    case ErrorCode.INVALID_USERNAME:
    case ErrorCode.INVALID_ROOM_NAME:
    case ErrorCode.WEAK_PASSWORD:
      return 400;
    case ErrorCode.UNAUTHORIZED:
    case ErrorCode.INVALID_CREDENTIALS:
      return 401;
    case ErrorCode.BAD_ORIGIN:
    case ErrorCode.FORBIDDEN:
    case ErrorCode.NOT_OWNER:
    case ErrorCode.NOT_MEMBER:
    case ErrorCode.WRONG_PASSWORD:
    case ErrorCode.BANNED:
    case ErrorCode.ACCOUNT_LOCKED:
    case ErrorCode.PASSWORD_CHANGE_REQUIRED:
      return 403;
    case ErrorCode.NOT_FOUND:
    case ErrorCode.ROOM_NOT_FOUND:
    case ErrorCode.USER_NOT_FOUND:
    case ErrorCode.UNKNOWN_EVENT:
      return 404;
    case ErrorCode.USERNAME_TAKEN:
    case ErrorCode.ROOM_EXISTS:
    case ErrorCode.NAME_CONFUSABLE:
    case ErrorCode.STALE_KEY:
    case ErrorCode.SELF_WHISPER:
      return 409;
    case ErrorCode.RATE_LIMITED:
    case ErrorCode.QUOTA_EXCEEDED:
    case ErrorCode.TOO_MANY_SOCKETS:
      return 429;
    case ErrorCode.BUSY:
    case ErrorCode.UNAVAILABLE:
      return 503;
    case ErrorCode.INTERNAL:
      return 500;
  }
}
