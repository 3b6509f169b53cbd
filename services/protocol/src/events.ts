/**
 * Every Socket.IO event of Sala, typed for Socket.IO's generics on both ends.
 * Client→server events all take an ack answering `Ack<T>`; docs/PROTOCOL.md shows examples.
 */
import type { ErrorBody } from "./errors.js";
import type { Requests } from "./schemas.js";
import type { RoomKey } from "./envelope.js";

export type Ack<T extends object = object> = ({ ok: true } & T) | { ok: false; error: ErrorBody };
export type AckCallback<T extends object = object> = (answer: Ack<T>) => void;

/** A room as the lobby shows it. */
export interface RoomSummary {
  id: string;
  name: string;
  owner: string;
  isPrivate: boolean;
  memberCount: number;
  createdAt: number;
}

/** The size of the whole lobby, cluster-wide. */
export interface LobbyCounts {
  /** Users online. */
  users: number;
  /** Rooms. */
  rooms: number;
}

/** The lobby's counts as sent on their own (`lobby_counts`), with the lobby revision they were read at. */
export interface LobbyCountsUpdate extends LobbyCounts {
  rev: number;
}

/**
 * The lobby on connect (and on `lobby` request): its counts and a first page, never all of it
 * (LobbyLimits). Every room and online user is reachable through `lobby_rooms` / `lobby_users`.
 */
export interface LobbySnapshot {
  counts: LobbyCounts;
  /** The first LobbyLimits.pageMax online users in name order (nameKey). */
  users: string[];
  /** The user's conversation partners who are online (at most LobbyLimits.partnersMax). */
  partners: string[];
  /** The LobbyLimits.pageMax most active rooms, in activity order (byActivity: most members first). */
  rooms: RoomSummary[];
  /** The rooms the user is a member of (at most LobbyLimits.ownRoomsMax). */
  myRooms: RoomSummary[];
  /**
   * Lobby revision this snapshot reflects. Every later lobby change carries a larger `rev`;
   * a client ignores changes with `rev <= snapshot.rev` (already in the snapshot), and for each
   * user or room keeps only the change with the highest rev (updates from different nodes may
   * arrive out of order).
   */
  rev: number;
  /**
   * The revision `partners` and `myRooms` were read at: at least `rev`, since the first page is the
   * node's last tick and they are read as the snapshot is made. Absent: `rev`.
   */
  followRev?: number;
  /**
   * How many users, and rooms, the first page holds at most: LOBBY_PAGE_SIZE, or fewer when long
   * names would pass LobbyLimits.snapshotBytesMax (the first page is then cut short to fit).
   */
  pageSize: number;
}

/** One page of online users in name order (nameKey), from `lobby_users`. */
export interface UserPage {
  users: string[];
  /** Pass as `after` for the next page; null: this was the last one. */
  next: string | null;
  /** The lobby revision the page reflects (as a snapshot's). */
  rev: number;
}

/** One page of rooms in name order (nameKey), from `lobby_rooms`. */
export interface RoomPage {
  rooms: RoomSummary[];
  next: string | null;
  rev: number;
}

export interface PresenceChange {
  username: string;
  online: boolean;
  rev: number;
}

export type RoomChange = { rev: number; room: RoomSummary } | { rev: number; removed: string };

/**
 * A batch of lobby changes; nodes coalesce them for a few hundred ms. A socket is sent the changes
 * of what it can see: the first page of the lobby (the users and rooms at the top of the snapshot's
 * order), the users and rooms of the pages it asked for since its last search, its conversation
 * partners. Member counts of the rooms on the first page are sent at a lower rate.
 */
export interface LobbyUpdate {
  presence: PresenceChange[];
  rooms: RoomChange[];
}

export interface JoinedRoom {
  room: RoomSummary;
  /** Every member, online or not: membership lasts until the member leaves or is kicked. */
  members: string[];
  /** The members online now, anywhere in the cluster; `member_presence` tells what changes. */
  online: string[];
  /** The room's current key: encrypt with this one. */
  key: RoomKey;
  /** The latest messages, oldest first. */
  history: RoomMessage[];
  /** The keys those messages were encrypted with (current key included). */
  keys: RoomKey[];
  /** Users the owner has barred from the room (kicked and not yet unbanned); only the owner gets them, others get []. */
  banned: string[];
}

export interface HistoryPage {
  messages: RoomMessage[];
  /** Keys of the epochs in `messages` that the server holds. */
  keys: RoomKey[];
}

export interface RoomMessage {
  roomId: string;
  /** Per-room sequence number: strictly increasing in the order the room accepted messages. */
  seq: number;
  from: string;
  /** Server time (ms since epoch) when the message was accepted. */
  ts: number;
  /** The ciphertext envelope, exactly as the sender produced it (its latest edit); "" once deleted. */
  msg: string;
  /** Server time (ms) of the author's latest edit (`edit_message`); absent: never edited. */
  editedAt?: number;
  /** The author deleted it (`delete_message`): a tombstone that keeps its seq, from and ts; `msg` is "". */
  deleted?: true;
}

/** To a room's sockets: the author replaced a message's envelope (under the room's current key). */
export interface MessageEdited {
  roomId: string;
  seq: number;
  /** The new envelope. */
  msg: string;
  /** Server time of this edit; it grows with every edit of the message: keep the edit with the largest. */
  editedAt: number;
}

/** One message of a 1-to-1 conversation (docs/PROTOCOL.md section 7). */
export interface Whisper {
  /** `dm:<a>:<b>` (conversationId()): the envelope's scope. */
  conversationId: string;
  /** Per-conversation sequence number, like a room's. */
  seq: number;
  from: string;
  to: string;
  /** Server time (ms since epoch) when the whisper was accepted. */
  ts: number;
  /** The ciphertext envelope under the conversation's key, exactly as the sender produced it. */
  msg: string;
}

/** A conversation as one of its two participants sees it. */
export interface ConversationSummary {
  id: string;
  /** The other participant (display name). */
  with: string;
  /** Messages after the last one this user read (or sent), on every device of theirs. */
  unread: number;
  /** The conversation's latest seq (0: no message yet). */
  lastSeq: number;
  /** Server time of the latest message (0: none). */
  lastTs: number;
}

export interface OpenedConversation {
  conversation: ConversationSummary;
  /** The conversation's current key: encrypt with this one. */
  key: RoomKey;
  /** Keys of the epochs in `history` (current key included). */
  keys: RoomKey[];
  /** The latest messages, oldest first. */
  history: Whisper[];
}

export interface ConversationPage {
  messages: Whisper[];
  keys: RoomKey[];
}

/** To every socket of a user: they read a conversation up to `seq` (on some device). */
export interface ConversationRead {
  conversationId: string;
  with: string;
  seq: number;
  unread: number;
}

/** Why a member left: they left (in any tab or device), or the owner kicked them. Going offline is not leaving. */
export type LeaveReason = "left" | "kicked";

/** One node's health, sampled every second (the /memory page charts these). */
export interface NodeSample {
  node: string;
  /** Sample time (ms since epoch). */
  ts: number;
  rssBytes: number;
  heapUsedBytes: number;
  /** CPU use of the node process over the last interval, percent of one core. */
  cpuPercent: number;
  /** Event-loop delay over the last interval (ms). */
  loopDelayP50Ms: number;
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
  /** Sockets connected to this node. */
  sockets: number;
  /** Chat rooms with at least one socket on this node. */
  rooms: number;
  /** Room messages accepted by this node per second. */
  messagesInPerSec: number;
  /** Room messages delivered to this node's sockets per second. */
  deliveriesOutPerSec: number;
}

export interface MetricsSubscription {
  /** Recent samples of every live node (oldest first), to fill the charts at once. */
  recent: NodeSample[];
  /** How long a node may stay silent before viewers drop it (its heartbeat TTL). */
  nodeTtlMs: number;
  /** How many seconds of history the charts keep. */
  windowSec: number;
}

export const ClientEvent = {
  lobby: "lobby",
  createRoom: "create_room",
  joinRoom: "join_room",
  leaveRoom: "leave_room",
  deleteRoom: "delete_room",
  kick: "kick",
  unban: "unban",
  text: "text",
  editMessage: "edit_message",
  deleteMessage: "delete_message",
  privateMessage: "private_message",
  openConversation: "open_conversation",
  conversations: "conversations",
  conversationHistory: "conversation_history",
  markRead: "mark_read",
  typing: "typing",
  history: "history",
  clearHistory: "clear_history",
  setRetention: "set_retention",
  metricsSubscribe: "metrics_subscribe",
  lobbyUsers: "lobby_users",
  lobbyRooms: "lobby_rooms",
  myRooms: "my_rooms",
} as const satisfies Record<string, RequestName>;

export const ServerEvent = {
  lobby: "lobby",
  lobbyUpdate: "lobby_update",
  lobbyCounts: "lobby_counts",
  memberJoined: "member_joined",
  memberLeft: "member_left",
  memberPresence: "member_presence",
  roomKey: "room_key",
  roomDeleted: "room_deleted",
  kicked: "kicked",
  banChanged: "ban_changed",
  text: "text",
  messageEdited: "message_edited",
  messageDeleted: "message_deleted",
  privateMessage: "private_message",
  conversationRead: "conversation_read",
  typing: "typing",
  historyCleared: "history_cleared",
  metricsSample: "metrics_sample",
  signedOut: "signed_out",
} as const;

/**
 * Why a session ended from elsewhere: an operator locked or deleted the account, revoked its
 * sessions or reset its password; the user changed their password in another session (which
 * ends their other sessions) or deleted the account; the session was logged out in another tab
 * (`logged_out`), or another tab of the same browser logged in over it (`logged_in_again`); or it
 * expired (`expired`: its absolute lifetime ran out, or it idled out of the session store).
 */
export type SignOutReason = "locked" | "deleted" | "sessions_revoked" | "password_reset" | "password_changed" | "logged_out" | "logged_in_again" | "expired";

/** What a request answers when it has nothing to tell but that it was done. */
export type Done = Record<never, never>;

/**
 * Every client→server request and what its ack answers when ok (`Ack<T>`). Its payload's schema is
 * the entry of the same name in `Requests` ("@sala/protocol/schemas"); the server's event table is
 * typed from both, so a handler cannot drift from its schema or its answer.
 */
export interface RequestAnswers {
  lobby: LobbySnapshot;
  /**
   * Online users in name order, from `after` (a previous page's `next`), whose names start with
   * `prefix` (case-insensitively). The socket is then sent their presence changes: a request
   * without `after` starts a new view (a search) and replaces what it followed; with `after`, it
   * adds to it (up to LobbyLimits.watchMax).
   */
  lobby_users: UserPage;
  /** Rooms in name order, like `lobby_users`; the socket is then sent their changes. */
  lobby_rooms: RoomPage;
  my_rooms: { rooms: RoomSummary[] };
  create_room: { room: RoomSummary };
  join_room: JoinedRoom;
  leave_room: Done;
  delete_room: Done;
  /** Owner only: removes the member and bars them from the room until `unban`. */
  kick: Done;
  /** Owner only: lifts a kick's bar (answers ok when the user was not barred). */
  unban: Done;
  text: { seq: number; ts: number };
  /** The author only, while a member: replaces the message's envelope for everyone (`message_edited`). */
  edit_message: { editedAt: number };
  /** The author only, while a member: leaves a tombstone in its place for everyone (`message_deleted`). */
  delete_message: Done;
  history: HistoryPage;
  /** Owner only: delete the room's stored messages. */
  clear_history: Done;
  /** Owner only: how many messages the room keeps (capped by the server's HISTORY_MAX). */
  set_retention: { maxMessages: number };
  /** A whisper: stored, then delivered to every socket of both participants. */
  private_message: { ts: number; to: string; seq: number; conversationId: string };
  /** The conversation with `with` (created with its key on first use), its key and latest messages. */
  open_conversation: OpenedConversation;
  /** The user's conversations, most recent first, with unread counts. */
  conversations: { conversations: ConversationSummary[] };
  conversation_history: ConversationPage;
  /** Read up to `seq`: every socket of the user gets `conversation_read`. */
  mark_read: { conversation: ConversationSummary };
  /** A signal: its ack is optional (`Requests.typing.ackOptional`). */
  typing: Done;
  /** Admins only: start receiving `metrics_sample` from every node. */
  metrics_subscribe: MetricsSubscription;
}

export type RequestName = keyof RequestAnswers;

/** The payload of request `E`: the static type of its schema in `Requests`. */
export type RequestPayload<E extends RequestName> = (typeof Requests)[E]["payload"]["static"];

/** The requests as Socket.IO's typed events: payload, then the ack (optional for signals). */
export type ClientToServerEvents = {
  [E in RequestName]: (typeof Requests)[E] extends { ackOptional: true }
    ? (payload: RequestPayload<E>, ack?: AckCallback<RequestAnswers[E]>) => void
    : (payload: RequestPayload<E>, ack: AckCallback<RequestAnswers[E]>) => void;
};

export interface ServerToClientEvents {
  lobby: (snapshot: LobbySnapshot) => void;
  lobby_update: (update: LobbyUpdate) => void;
  /** The lobby's counts, to every lobby socket, at most once per lobby tick and only when they changed. */
  lobby_counts: (counts: LobbyCountsUpdate) => void;
  member_joined: (event: { roomId: string; username: string }) => void;
  member_left: (event: { roomId: string; username: string; reason: LeaveReason }) => void;
  /** A member came online (their first socket anywhere) or went offline (after the presence grace); to the room's sockets. */
  member_presence: (event: { roomId: string; username: string; online: boolean }) => void;
  room_key: (event: { roomId: string; key: RoomKey }) => void;
  room_deleted: (event: { roomId: string; name: string }) => void;
  kicked: (event: { roomId: string; name: string; by: string }) => void;
  /** To every socket of the room's owner: `username` was barred (kick) or let back in (unban). */
  ban_changed: (event: { roomId: string; username: string; banned: boolean }) => void;
  text: (message: RoomMessage) => void;
  /** To the room's sockets: a message was edited by its author; ignore a seq you do not hold. */
  message_edited: (event: MessageEdited) => void;
  /** To the room's sockets: a message was deleted by its author (show it as deleted; it stays deleted). */
  message_deleted: (event: { roomId: string; seq: number }) => void;
  private_message: (whisper: Whisper) => void;
  conversation_read: (event: ConversationRead) => void;
  typing: (event: { roomId: string; username: string }) => void;
  /** To the room's members: the owner cleared the history (drop what you show). */
  history_cleared: (event: { roomId: string; by: string }) => void;
  /** To subscribed admins: one node's sample, every second, from every node. */
  metrics_sample: (sample: NodeSample) => void;
  /** The socket's session was ended from elsewhere (see SignOutReason); the socket is closed right after. */
  signed_out: (event: { reason: SignOutReason }) => void;
}

/** Messages between nodes (Socket.IO serverSideEmit); none yet. */
export type InterServerEvents = Record<string, never>;
