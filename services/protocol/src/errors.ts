/**
 * Every error code that may leave a Sala node, over HTTP (`{ ok: false, error: { code, message } }`) or in a
 * socket ack (`{ ok: false, error: { code, message } }`). Nothing else leaves: internal failures
 * are logged and reported as INTERNAL or UNAVAILABLE.
 */
export const ErrorCode = {
  /** The payload failed schema validation (wrong type, unknown field, too long, extra arguments). */
  BAD_REQUEST: "BAD_REQUEST",
  /** No such HTTP route. */
  NOT_FOUND: "NOT_FOUND",
  /** The event name is not part of the protocol. */
  UNKNOWN_EVENT: "UNKNOWN_EVENT",
  /** No valid session: log in first. */
  UNAUTHORIZED: "UNAUTHORIZED",
  /** Logged in, but not allowed (e.g. operator pages need the admin role: `npm run admin -- grant-admin NAME`). */
  FORBIDDEN: "FORBIDDEN",
  /** The request came from an origin that is not in ALLOWED_ORIGINS. */
  BAD_ORIGIN: "BAD_ORIGIN",
  /** Too many events or attempts; `retryAfterMs` says when to try again. */
  RATE_LIMITED: "RATE_LIMITED",
  /** Registration: the username is taken (case-insensitively). */
  USERNAME_TAKEN: "USERNAME_TAKEN",
  /** Registration: the username breaks the naming rules. */
  INVALID_USERNAME: "INVALID_USERNAME",
  /** An account or room password is too short or too long. */
  WEAK_PASSWORD: "WEAK_PASSWORD",
  /** Login: unknown user or wrong password (deliberately the same answer). */
  INVALID_CREDENTIALS: "INVALID_CREDENTIALS",
  /** Login with the right password to an account an operator locked (`sala-admin users lock`). */
  ACCOUNT_LOCKED: "ACCOUNT_LOCKED",
  /**
   * An operator reset this account's password: the session may only change it (POST
   * /account/password) before anything else; sockets are refused until then.
   */
  PASSWORD_CHANGE_REQUIRED: "PASSWORD_CHANGE_REQUIRED",
  /** Room creation: a room with that name exists (case-insensitively). */
  ROOM_EXISTS: "ROOM_EXISTS",
  /** Room creation: the name breaks the naming rules. */
  INVALID_ROOM_NAME: "INVALID_ROOM_NAME",
  ROOM_NOT_FOUND: "ROOM_NOT_FOUND",
  /** Private room: the password is missing or wrong. */
  WRONG_PASSWORD: "WRONG_PASSWORD",
  /** The action needs membership of the room (join it first). */
  NOT_MEMBER: "NOT_MEMBER",
  /** Only the room's owner may do this. */
  NOT_OWNER: "NOT_OWNER",
  /** A room message or whisper was encrypted with a key that is not the room's (conversation's) current key. */
  STALE_KEY: "STALE_KEY",
  /** Whisper or conversation target: no such user. */
  USER_NOT_FOUND: "USER_NOT_FOUND",
  /** Whisper or conversation target: yourself. */
  SELF_WHISPER: "SELF_WHISPER",
  /** The owner barred this user from the room (kick); only the owner's `unban` lifts it. */
  BANNED: "BANNED",
  /** A per-user limit on what one account may own or create (e.g. rooms) is reached. */
  QUOTA_EXCEEDED: "QUOTA_EXCEEDED",
  /** The node is at capacity for this kind of work right now (e.g. password hashing); nothing was changed. Retry after `retryAfterMs`. */
  BUSY: "BUSY",
  /** Handshake refused: this user or client address already holds as many sockets as allowed. */
  TOO_MANY_SOCKETS: "TOO_MANY_SOCKETS",
  /** Registration or room creation: the name looks like an existing one (Unicode confusables). */
  NAME_CONFUSABLE: "NAME_CONFUSABLE",
  /** Shared state (Redis) cannot be reached right now; nothing was changed. Retry later. */
  UNAVAILABLE: "UNAVAILABLE",
  /** An unexpected failure; details are in the node's log, never in the answer. */
  INTERNAL: "INTERNAL",
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface ErrorBody {
  code: ErrorCode;
  message: string;
  /** Present with RATE_LIMITED and BUSY: milliseconds until the next attempt may succeed. */
  retryAfterMs?: number;
}
