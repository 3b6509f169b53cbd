/**
 * JSON schemas (TypeBox) for every HTTP body and every client→server socket payload. The server
 * compiles them once; `additionalProperties: false` everywhere, so unknown fields are rejected.
 * Semantic rules that deserve their own error code (username charset, room-name rules) are
 * checked after the shape, in the server's domain code.
 */
import { Type, type Static, type TSchema, type TObject, type TProperties } from "@sinclair/typebox";
import { Limits, LobbyLimits, ROOM_ID_PATTERN, USERNAME_PATTERN } from "./limits.js";
import { ENVELOPE_PATTERN } from "./envelope-format.js";
import type { RequestName } from "./events.js";

const strict = <T extends TProperties>(properties: T): TObject<T> =>
  Type.Object(properties, { additionalProperties: false });

const RoomId = Type.String({ pattern: ROOM_ID_PATTERN });
/**
 * A username in a payload follows the registration rule (USERNAME_PATTERN), so no name from a
 * client can carry a `:` or a hash tag into a Redis key of another family (`user:<name>:rooms`).
 */
const Username = Type.String({ minLength: Limits.usernameMin, maxLength: Limits.usernameMax, pattern: USERNAME_PATTERN.source });
/** A ciphertext envelope (envelope-format.ts); the server checks its shape, never its content. */
const Envelope = Type.String({ maxLength: Limits.envelopeMax, pattern: ENVELOPE_PATTERN });
/**
 * The sender's id for a message (random, 8–32 characters): sending it again with the same id
 * (after a lost ack) returns the first answer instead of posting a duplicate.
 */
const MessageId = Type.String({ pattern: "^[A-Za-z0-9_-]{8,32}$" });
/** A sequence number: bounded so that it always prints as digits (never "1e+21") in a Redis id. */
const Seq = (minimum: number) => Type.Integer({ minimum, maximum: Number.MAX_SAFE_INTEGER });
/** Paging a stored history: `afterSeq` (backfill) or `beforeSeq` (paging back), oldest first. */
const Paging = {
  afterSeq: Type.Optional(Seq(0)),
  beforeSeq: Type.Optional(Seq(1)),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200 })),
};

export const CredentialsBody = strict({
  username: Type.String({ minLength: 1, maxLength: 64 }),
  password: Type.String({ minLength: 1, maxLength: 1024 }),
});

/** GET /admin/api/users and /admin/api/rooms: a page by name, optionally by prefix (a search). */
export const AdminPageQuery = strict({
  prefix: Type.Optional(Type.String({ maxLength: Limits.roomNameMax * 2 })),
  after: Type.Optional(Type.String({ maxLength: Limits.roomNameMax * 4 })),
  limit: Type.Optional(Type.String({ pattern: "^[1-9][0-9]{0,2}$" })),
});
export const AdminUserParams = strict({ name: Username });
export const AdminRoomParams = strict({ room: RoomId });
/** POST /admin/api/users/:name/reset-password: a password to set, or none for a one-time password. */
export const AdminResetBody = strict({ password: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })) });
/** POST /admin/api/users/:name/revoke-sessions: one session (its tag), or every session. */
export const AdminRevokeBody = strict({ session: Type.Optional(Type.String({ pattern: "^[A-Za-z0-9_-]{10}$" })) });
export const AdminAuditQuery = strict({ limit: Type.Optional(Type.String({ pattern: "^[1-9][0-9]{0,2}$" })) });

/** POST /account/password: the session's user sets a new password (their other sessions end). */
export const PasswordChangeBody = strict({
  currentPassword: Type.String({ minLength: 1, maxLength: 1024 }),
  newPassword: Type.String({ minLength: 1, maxLength: 1024 }),
});

/** POST /account/delete: the session's user deletes their account, confirmed with the password. */
export const AccountDeleteBody = strict({
  password: Type.String({ minLength: 1, maxLength: 1024 }),
});

export const CreateRoomPayload = strict({
  name: Type.String({ minLength: 1, maxLength: Limits.roomNameMax * 2 }),
  password: Type.Optional(Type.String({ maxLength: Limits.roomPasswordMax })),
});

export const JoinRoomPayload = strict({
  roomId: RoomId,
  password: Type.Optional(Type.String({ maxLength: Limits.roomPasswordMax })),
  /**
   * Only back in as a member, never let in anew: a client rejoining its rooms (after a reconnect,
   * at a page load) must not undo a leave made meanwhile on another device. NOT_MEMBER otherwise.
   */
  resume: Type.Optional(Type.Boolean()),
});

export const RoomRefPayload = strict({ roomId: RoomId });

export const KickPayload = strict({ roomId: RoomId, username: Username });

export const TextPayload = strict({ roomId: RoomId, msg: Envelope, id: Type.Optional(MessageId) });

/** The author edits room message `seq`: a new envelope under the room's current key (scope: the room id). */
export const EditMessagePayload = strict({ roomId: RoomId, seq: Seq(1), msg: Envelope });

/** The author deletes room message `seq`. */
export const DeleteMessagePayload = strict({ roomId: RoomId, seq: Seq(1) });

export const RetentionPayload = strict({
  roomId: RoomId,
  /** Messages this room keeps (at most the server's HISTORY_MAX; 0 keeps none). */
  maxMessages: Type.Integer({ minimum: 0, maximum: 1_000_000 }),
});

export const HistoryPayload = strict({ roomId: RoomId, ...Paging });

/** A whisper: an envelope under the conversation's current key (scope: the conversation id). */
export const PrivateMessagePayload = strict({ to: Username, msg: Envelope, id: Type.Optional(MessageId) });

/** The conversation between the sender and `with` (opening it, or marking it read). */
export const ConversationRefPayload = strict({ with: Username });

export const ConversationHistoryPayload = strict({ with: Username, ...Paging });

/** Everything up to `seq` in the conversation with `with` has been read. */
export const MarkReadPayload = strict({ with: Username, seq: Seq(0) });

export const EmptyPayload = strict({});

/**
 * A page of the lobby's users or rooms: those whose names start with `prefix` (compared by nameKey),
 * after the cursor `after` (a previous page's `next`), at most `limit`.
 */
export const LobbyPagePayload = strict({
  prefix: Type.Optional(Type.String({ maxLength: LobbyLimits.prefixMax })),
  after: Type.Optional(Type.String({ minLength: 1, maxLength: LobbyLimits.cursorMax })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: LobbyLimits.pageMax })),
});

/**
 * The Socket.IO handshake's `auth`: the rooms this client was in, so that after a reconnect (a
 * drain, a node crash, a network blip) its socket is back in them before any buffered event is
 * processed. Rooms the user is no longer a member of are ignored.
 */
export const HandshakeAuth = strict({
  rooms: Type.Optional(Type.Array(RoomId, { maxItems: 16 })),
});

/** How the server takes one request: its payload's schema, and whether it may come without an ack. */
export interface RequestSpec {
  payload: TSchema;
  /** A signal (`typing`): it may come without an ack. */
  ackOptional?: true;
}

/**
 * Every client→server request's schema, by event name: one table for the server (which compiles it
 * and dispatches by it), the clients and the docs. What each answers is `RequestAnswers` (events.ts).
 */
export const Requests = {
  lobby: { payload: EmptyPayload },
  lobby_users: { payload: LobbyPagePayload },
  lobby_rooms: { payload: LobbyPagePayload },
  my_rooms: { payload: EmptyPayload },
  create_room: { payload: CreateRoomPayload },
  join_room: { payload: JoinRoomPayload },
  leave_room: { payload: RoomRefPayload },
  delete_room: { payload: RoomRefPayload },
  kick: { payload: KickPayload },
  unban: { payload: KickPayload },
  text: { payload: TextPayload },
  edit_message: { payload: EditMessagePayload },
  delete_message: { payload: DeleteMessagePayload },
  history: { payload: HistoryPayload },
  clear_history: { payload: RoomRefPayload },
  set_retention: { payload: RetentionPayload },
  private_message: { payload: PrivateMessagePayload },
  open_conversation: { payload: ConversationRefPayload },
  conversations: { payload: EmptyPayload },
  conversation_history: { payload: ConversationHistoryPayload },
  mark_read: { payload: MarkReadPayload },
  typing: { payload: RoomRefPayload, ackOptional: true },
  metrics_subscribe: { payload: EmptyPayload },
} as const satisfies Record<RequestName, RequestSpec>;

export type CredentialsBody = Static<typeof CredentialsBody>;
export type PasswordChangeBody = Static<typeof PasswordChangeBody>;
export type AdminPageQuery = Static<typeof AdminPageQuery>;
export type AdminUserParams = Static<typeof AdminUserParams>;
export type AdminRoomParams = Static<typeof AdminRoomParams>;
export type AdminResetBody = Static<typeof AdminResetBody>;
export type AdminRevokeBody = Static<typeof AdminRevokeBody>;
export type AdminAuditQuery = Static<typeof AdminAuditQuery>;
export type AccountDeleteBody = Static<typeof AccountDeleteBody>;
export type CreateRoomPayload = Static<typeof CreateRoomPayload>;
export type JoinRoomPayload = Static<typeof JoinRoomPayload>;
export type RoomRefPayload = Static<typeof RoomRefPayload>;
export type KickPayload = Static<typeof KickPayload>;
export type TextPayload = Static<typeof TextPayload>;
export type EditMessagePayload = Static<typeof EditMessagePayload>;
export type DeleteMessagePayload = Static<typeof DeleteMessagePayload>;
export type HistoryPayload = Static<typeof HistoryPayload>;
export type RetentionPayload = Static<typeof RetentionPayload>;
export type PrivateMessagePayload = Static<typeof PrivateMessagePayload>;
export type ConversationRefPayload = Static<typeof ConversationRefPayload>;
export type ConversationHistoryPayload = Static<typeof ConversationHistoryPayload>;
export type MarkReadPayload = Static<typeof MarkReadPayload>;
export type EmptyPayload = Static<typeof EmptyPayload>;
export type LobbyPagePayload = Static<typeof LobbyPagePayload>;
export type HandshakeAuth = Static<typeof HandshakeAuth>;

export type { TSchema };
