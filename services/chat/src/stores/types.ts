/**
 * Sala's shared state behind narrow interfaces, each with a memory implementation (embedded mode,
 * unit tests) and a Redis implementation (cluster mode). test/store-contract.test.ts runs the same
 * suite against both, so they cannot drift apart.
 *
 * Names are passed as users typed them; stores compare them case-insensitively (`nameKey`).
 */
import type { ConversationSummary, NodeSample, RoomKey, RoomMessage, RoomSummary, Whisper } from "@sala/protocol";

export interface UserRecord {
  /** Display form, as registered. */
  username: string;
  passwordHash: string;
  createdAt: number;
}

export interface UserStore {
  /** Creates the user; false when the name is taken (case-insensitively). */
  create(user: UserRecord): Promise<boolean>;
  get(username: string): Promise<UserRecord | null>;
  setPasswordHash(username: string, passwordHash: string): Promise<void>;
}

export interface RoomRecord {
  id: string;
  name: string;
  owner: string;
  /** argon2id hash of the room password; null for public rooms. */
  passwordHash: string | null;
  createdAt: number;
}

export interface MembershipChange {
  /** False when nothing changed (already a member / not a member). */
  changed: boolean;
  memberCount: number;
  /** Lobby revision of this change (0 when nothing changed). */
  rev: number;
  /** The member's name as stored (display form), whatever case the caller used. */
  username: string;
}

export interface RoomStore {
  /** Creates the room with its first key; false when the name is taken (case-insensitively). */
  create(room: RoomRecord, firstKey: RoomKey): Promise<{ created: boolean; rev: number }>;
  get(roomId: string): Promise<RoomRecord | null>;
  summary(roomId: string): Promise<RoomSummary | null>;
  /** Deletes the room, its keys and memberships; returns the members it had (null: no such room). */
  delete(roomId: string): Promise<{ members: string[]; rev: number } | null>;
  addMember(roomId: string, username: string): Promise<MembershipChange>;
  removeMember(roomId: string, username: string): Promise<MembershipChange>;
  members(roomId: string): Promise<string[]>;
  isMember(roomId: string, username: string): Promise<boolean>;
  /** Ids of the rooms the user is a member of. */
  roomsOf(username: string): Promise<string[]>;
  currentKey(roomId: string): Promise<RoomKey | null>;
  /** Stores `key` as the room's next key (id = previous id + 1) and returns it. */
  rotateKey(roomId: string, key: string): Promise<RoomKey>;
  /**
   * Accepts a message: if its key id is the room's current key id, numbers it with the next
   * sequence number and appends it to the room's history (capped by `cap`: its length, and its
   * age counted back from the message's ts), otherwise answers the current key id as
   * `{ staleKey }` — atomically, so no message under a retired key gets a number after a
   * rotation. A message whose `clientId` was accepted in the last minutes gets the first answer
   * again (`duplicate`), and is not stored twice. null: no such room.
   */
  acceptMessage(message: IncomingMessage, cap: HistoryCap): Promise<AcceptResult | null>;
  /** Stored messages, oldest first: the latest, those after a seq, or those before one. */
  history(roomId: string, query: HistoryQuery): Promise<RoomMessage[]>;
  /** Deletes the room's stored messages (numbering goes on). */
  clearHistory(roomId: string): Promise<void>;
  /** How many messages this room keeps (its own setting; the server cap still applies). */
  setRetention(roomId: string, maxMessages: number): Promise<void>;
  /** The room's keys with these ids (unknown ids are left out). */
  keysById(roomId: string, ids: number[]): Promise<RoomKey[]>;
}

export interface IncomingMessage {
  roomId: string;
  keyId: number;
  from: string;
  ts: number;
  msg: string;
  clientId?: string;
}

export interface AcceptedMessage {
  seq: number;
  ts: number;
  duplicate: boolean;
  /** The store delivered it to the room's sockets on every node itself (see Announcement). */
  announced: boolean;
}

/**
 * What a store publishes, in the same step as it accepts a message, so that every node delivers it
 * (built by realtime/room-announcer.ts): the frame `head + seq + tail` on `channel`.
 */
export interface Announcement {
  channel: string;
  head: string;
  tail: string;
}

/** Builds the announcement of a message being accepted. */
export type Announcer = (message: IncomingMessage) => Announcement;

/** One stored message, before it is dressed as a room message or a whisper. */
export interface StoredMessage {
  seq: number;
  from: string;
  ts: number;
  msg: string;
}

export type AcceptResult = AcceptedMessage | { staleKey: number };

/** What a room's or conversation's stored history keeps. */
export interface HistoryCap {
  /** Latest messages kept (HISTORY_MAX; a room's own retention may lower it). */
  maxMessages: number;
  /** Messages older than this (ms) are dropped; 0: no age cap (HISTORY_MAX_AGE_SEC). */
  maxAgeMs: number;
}

/** The oldest ts a history keeps at time `now` under `cap` (0: no age cap). */
export function oldestKept(cap: Pick<HistoryCap, "maxAgeMs">, now: number): number {
  return cap.maxAgeMs > 0 ? now - cap.maxAgeMs : 0;
}

export interface HistoryQuery {
  afterSeq?: number;
  beforeSeq?: number;
  limit: number;
  /**
   * Messages with a ts before this (ms) are past the age cap: never returned (and a store may
   * trim them on the way). Absent or 0: no age cap.
   */
  notBefore?: number;
}

export interface IncomingWhisper {
  from: string;
  to: string;
  keyId: number;
  ts: number;
  msg: string;
  clientId?: string;
}

/**
 * Persisted 1-to-1 conversations: one per pair of users (id `dm:<a>:<b>`, conversationId()), with
 * a server-minted key, a numbered and capped history, and each participant's read position.
 * Unread = the conversation's last seq − the user's read seq: a user's own message moves their
 * read seq to it, so every message after it is from the other participant.
 */
export interface ConversationStore {
  /**
   * The conversation of `me` and `peer` (display names), created with `key` as key 1 when new;
   * it joins `me`'s list (the peer's list gets it with its first message).
   */
  open(me: string, peer: string, key: string): Promise<{ conversation: ConversationSummary; key: RoomKey }>;
  /** The user's conversations, most recent first (at most `limit`). */
  list(me: string, limit: number): Promise<ConversationSummary[]>;
  /** Like RoomStore.acceptMessage; the sender's read seq moves to the new message. null: not opened yet. */
  accept(whisper: IncomingWhisper, cap: HistoryCap): Promise<AcceptResult | null>;
  /** Stored whispers of the conversation of `me` and `peer`, oldest first. */
  history(me: string, peer: string, query: HistoryQuery): Promise<Whisper[]>;
  /** `me` has read up to `seq` (never backwards, never past the last message). null: no conversation. */
  markRead(me: string, peer: string, seq: number): Promise<ConversationSummary | null>;
  /** The conversation's keys with these ids (unknown ids are left out). */
  keysById(conversationId: string, ids: number[]): Promise<RoomKey[]>;
}

/** Everything the lobby shows, with the revision it reflects. */
export interface LobbySnapshot {
  users: string[];
  rooms: RoomSummary[];
  rev: number;
}

export interface LobbyStore {
  snapshot(): Promise<LobbySnapshot>;
}

/** Transition of a user's cluster-wide presence, with its lobby revision. */
export interface PresenceTransition {
  username: string;
  rev: number;
}

export interface PresenceStore {
  /**
   * `nodeId` holds `username` (the tracker calls it for a user's first socket on the node; a
   * repeated call changes nothing); returns a transition when the user just came online.
   */
  connect(nodeId: string, username: string): Promise<PresenceTransition | null>;
  /** `nodeId` no longer holds `username`; returns a transition when no node holds them any more. */
  disconnect(nodeId: string, username: string): Promise<PresenceTransition | null>;
  isOnline(username: string): Promise<boolean>;
  /** Records that `nodeId` is alive; returns false when the node was not registered (new or swept). */
  heartbeat(nodeId: string, now: number): Promise<boolean>;
  /** Nodes whose last heartbeat is older than `now - ttlMs`. */
  deadNodes(now: number, ttlMs: number): Promise<string[]>;
  /**
   * Forgets a node and every socket it held; returns the users who thereby went offline. Atomic:
   * when several survivors sweep the same node, only one of them gets the users.
   */
  sweepNode(nodeId: string): Promise<PresenceTransition[]>;
  /**
   * Queues an offline transition to be confirmed at `dueAt` (ms): a user who reconnects within the
   * grace period never appears to leave. Queued in shared state so any node can confirm it.
   */
  deferOffline(transition: PresenceTransition, dueAt: number): Promise<void>;
  /**
   * True when the user is offline and has not come online since the transition with lobby
   * revision `rev` (coming back, even briefly, cancels that transition's confirmation).
   */
  offlineSince(username: string, rev: number): Promise<boolean>;
  /** Takes the queued transitions due by `now`; atomic, so each is taken by exactly one node. */
  takeDueOffline(now: number): Promise<PresenceTransition[]>;
}

/** The last few minutes of every node's health samples, for /memory viewers who arrive later. */
export interface SampleStore {
  /** Keeps `sample` (at most `windowSec` per node); its node counts as live for `ttlMs`. */
  record(sample: NodeSample, windowSec: number, ttlMs: number): Promise<void>;
  /** Samples of the nodes that reported within `ttlMs` of `now`, oldest first per node. */
  recent(now: number, ttlMs: number): Promise<NodeSample[]>;
}

export interface Stores {
  users: UserStore;
  rooms: RoomStore;
  conversations: ConversationStore;
  presence: PresenceStore;
  lobby: LobbyStore;
  samples: SampleStore;
}

/** The case-insensitive identity of a username or room name. */
export function nameKey(name: string): string {
  return name.normalize("NFC").toLowerCase();
}
