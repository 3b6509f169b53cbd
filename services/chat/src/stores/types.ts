/**
 * Sala's shared state behind narrow interfaces, each with a memory implementation (embedded mode,
 * unit tests) and a Redis implementation (cluster mode). test/store-contract.test.ts runs the same
 * suite against both, so they cannot drift apart.
 *
 * Names are passed as users typed them; stores compare them case-insensitively (`nameKey`).
 */
import type { ConversationSummary, LobbyCounts, NodeSample, RoomKey, RoomMessage, RoomSummary, Whisper } from "@sala/protocol";

export { nameKey } from "@sala/protocol";

export interface UserRecord {
  /** Display form, as registered. */
  username: string;
  passwordHash: string;
  createdAt: number;
}

/** What an operator is shown of an account, and what a login checks beyond the password. */
export interface UserAccount extends UserRecord {
  admin: boolean;
  /** When an operator locked the account (ms); 0: not locked. A locked account cannot log in. */
  lockedAt: number;
  /** An operator reset the password: the next session must set a new one before anything else. */
  mustChangePassword: boolean;
  /** Last successful login (ms); 0: never. */
  lastLoginAt: number;
  /** When the user was last seen online: their last login, or their last socket closing (ms); 0: never. */
  lastSeenAt: number;
  /**
   * Sessions that logged in before this (ms) are worth nothing: set when the account is locked, its
   * password reset or changed, or all its sessions revoked. Checked on every handshake and every
   * request that needs a session (http/session-access.ts), so it holds for sessions no index lists.
   */
  sessionsNotBefore: number;
}

/** Whether a session that logged in at `loginAt` may still act for `account`. */
export function sessionValid(account: UserAccount | null, loginAt: number): account is UserAccount {
  return account !== null && account.lockedAt === 0 && loginAt >= account.sessionsNotBefore;
}

export interface UserStore {
  /**
   * Creates the user; false when the name is taken (case-insensitively). Throws
   * NameConfusableError (domain/confusables.ts) when the name looks like an existing user's: the
   * check and the claim are one atomic step. The account is listed in the directory.
   */
  create(user: UserRecord): Promise<boolean>;
  get(username: string): Promise<UserRecord | null>;
  /** The account with its role and status; null: no such user. */
  account(username: string): Promise<UserAccount | null>;
  /**
   * Replaces the password hash of an existing account and sets whether the next login must change
   * it (an operator's reset: true; the user's own change: false; a rehash: as it was). With
   * `expectedHash`, only if the stored hash is still that one (a change racing a reset loses);
   * with `sessionsNotBefore`, older sessions end (see UserAccount). false: no such user, or the
   * hash changed meanwhile.
   */
  setPasswordHash(username: string, passwordHash: string, mustChange?: boolean, guard?: { expectedHash?: string; sessionsNotBefore?: number }): Promise<boolean>;
  /** Ends every session that logged in before `before` (sessionsNotBefore only moves forward); false: no such user. */
  endSessionsBefore(username: string, before: number): Promise<boolean>;
  /** Grants (true) or revokes (false) the admin role of an existing user; false: no such user. */
  setAdmin(username: string, admin: boolean): Promise<boolean>;
  /** Whether the user holds the admin role (false for unknown users). */
  isAdmin(username: string): Promise<boolean>;
  /** Locks (at `now`, unless locked already; its sessions end) or unlocks an existing account; false: no such user. */
  setLocked(username: string, locked: boolean, now: number): Promise<boolean>;
  /** Notes that the user was seen at `now` (a login also sets lastLoginAt); nothing for an unknown user. */
  recordSeen(username: string, now: number, login: boolean): Promise<void>;
  /**
   * Deletes the account: its record, its look-alike claim (the name may be registered again), its
   * directory entry and its own sets (rooms, owned rooms, conversations, sessions). Rooms and
   * conversations themselves are the caller's (admin/service.ts). false: no such user.
   */
  delete(username: string): Promise<boolean>;
  /**
   * Accounts in name order, like the lobby's pages (by prefix, from a name key on): their name keys,
   * as the index holds them (the caller reads the accounts it shows).
   */
  directory(query: LobbyPageQuery): Promise<{ items: string[]; next: string | null }>;
  /** How many accounts exist. */
  count(): Promise<number>;
}

/** One login session of a user, as the session index knows it. */
export interface SessionEntry {
  /** The session id (the cookie's, unsigned): never shown; see http/session.ts sessionTag. */
  id: string;
  loginAt: number;
}

/**
 * The sessions each user logged in, so that an operator (or the user, changing their password)
 * can end all of them: the sessions themselves live in the session store (express-session),
 * which cannot be searched by user.
 */
export interface SessionIndexStore {
  /** Adds a session; forgets the user's entries that logged in before `forgetBefore` (past the absolute timeout). */
  add(username: string, entry: SessionEntry, forgetBefore: number): Promise<void>;
  remove(username: string, sessionId: string): Promise<void>;
  /** The user's sessions, oldest first (some may have expired in the session store since). */
  list(username: string): Promise<SessionEntry[]>;
}

/** One operator action (admin CLI), kept for the record. */
export interface AuditEntry {
  /** ms since the epoch. */
  ts: number;
  /** Who did it: the OS user that ran the command. */
  actor: string;
  /** The command, e.g. `grant-admin`. */
  action: string;
  /** What it acted on, e.g. a username. */
  target: string;
  /** How it ended: `done`, `unchanged`, `unknown_user`, … */
  outcome: string;
}

/** The operators' audit trail, capped to its latest entries. */
export interface AuditStore {
  /** Appends `entry`, keeping the latest `keep` entries. */
  append(entry: AuditEntry, keep: number): Promise<void>;
  /** The latest entries, newest first (at most `limit`). */
  recent(limit: number): Promise<AuditEntry[]>;
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

/**
 * Why a store refused to admit a user into a room: `barred` by the owner (kick, until unban), or
 * `password`: a private room whose password the caller did not verify (against the hash the room
 * has now) and the user is not already a member.
 */
export type AdmissionRefusal = "barred" | "password";

export type Admission = MembershipChange | { refused: AdmissionRefusal };

/** Users one room may bar at once: a bound on what one owner's kicks can make Redis keep. */
export const MAX_BARRED_PER_ROOM = 1000;

export type Barring = MembershipChange | { refused: "full" } | null;

/** What a room creation answers: `quota` when the owner already owns `maxOwned` rooms. */
export type RoomCreation = { created: true; rev: number } | { created: false; reason: "name_taken" | "quota" };

export interface RoomStore {
  /**
   * Creates the room with its first key, counted among its owner's rooms; refused when the name is
   * taken (case-insensitively) or the owner already owns `maxOwned` rooms (0: no limit). A new room
   * is empty: it counts as idle from its creation (see idleRooms).
   */
  create(room: RoomRecord, firstKey: RoomKey, maxOwned: number): Promise<RoomCreation>;
  get(roomId: string): Promise<RoomRecord | null>;
  summary(roomId: string): Promise<RoomSummary | null>;
  /** Summaries of these rooms, in order; rooms that do not exist are left out. */
  summaries(roomIds: string[]): Promise<RoomSummary[]>;
  /**
   * Deletes the room, its keys, memberships, bars, history and remembered message ids; returns the
   * members it had (null: no such room, or — with `idleBefore` — the room is no longer empty and
   * idle since before that time).
   */
  delete(roomId: string, idleBefore?: number): Promise<{ members: string[]; rev: number } | null>;
  /**
   * Admits the user, in one atomic step: a member stays a member (changed: false); a barred user
   * is refused; a private room needs `verifiedHash` to equal its password hash (the caller checked
   * the password against it), unless the user is a member already. A missing room answers
   * changed: false with memberCount 0.
   */
  admit(roomId: string, username: string, verifiedHash: string | null): Promise<Admission>;
  /** `now`: when the room became empty, if this was its last member (see idleRooms). */
  removeMember(roomId: string, username: string, now: number): Promise<MembershipChange>;
  /**
   * The owner's kick, in one atomic step: the user is no longer a member and is barred from the
   * room until `unbar`. Returns the membership change (changed: false when they were not a member;
   * they are barred all the same); `full` (nothing changed) when the room already bars
   * MAX_BARRED_PER_ROOM others. null: no such room.
   */
  bar(roomId: string, username: string, now: number): Promise<Barring>;
  /** Lifts a bar; false when the user was not barred. */
  unbar(roomId: string, username: string): Promise<boolean>;
  /** Display names of the users barred from the room. */
  barred(roomId: string): Promise<string[]>;
  members(roomId: string): Promise<string[]>;
  isMember(roomId: string, username: string): Promise<boolean>;
  /** Ids of rooms empty since before `before` (ms), oldest first, at most `limit`. */
  idleRooms(before: number, limit: number): Promise<string[]>;
  /** Ids of the rooms the user is a member of; with `limit`, at most that many of them (any). */
  roomsOf(username: string, limit?: number): Promise<string[]>;
  /** Ids of the rooms the user owns. */
  ownedBy(username: string): Promise<string[]>;
  currentKey(roomId: string): Promise<RoomKey | null>;
  /** Stores `key` as the room's next key (id = previous id + 1) and returns it. */
  rotateKey(roomId: string, key: string): Promise<RoomKey>;
  /**
   * Accepts a message: if its sender is a member (else `{ notMember }`) and its key id is the
   * room's current key id, numbers it with the next sequence number and appends it to the room's
   * history (capped by `cap`: its length, and its age counted back from the message's ts),
   * otherwise answers the current key id as `{ staleKey }` — atomically, so no message under a
   * retired key gets a number after a rotation, and none from a user kicked a moment before. A
   * message whose `clientId` was accepted in the last minutes gets the first answer again
   * (`duplicate`), and is not stored twice. null: no such room.
   */
  acceptMessage(message: IncomingMessage, cap: HistoryCap): Promise<RoomAcceptResult | null>;
  /**
   * The author's edit or delete of stored message `seq`, decided in one atomic step: the room
   * exists, `by` is a member, the message is stored (not trimmed, past the age cap or deleted), `by`
   * sent it, and an edit's key id is the room's current key. An edit replaces the envelope and
   * stamps `editedAt` (the change's `at`, or just after the message's previous edit); a delete
   * leaves a tombstone (`deleted`, no envelope) in its place. Either is final for every later
   * reader of the history; anything refused changes nothing.
   */
  changeMessage(change: MessageChange, cap: Pick<HistoryCap, "maxAgeMs">): Promise<MessageChangeResult>;
  /** Stored messages, oldest first: the latest, those after a seq, or those before one. */
  history(roomId: string, query: HistoryQuery): Promise<RoomMessage[]>;
  /** Deletes the room's stored messages, their edits and tombstones (numbering goes on). */
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
  /**
   * A duplicate to deliver all the same: with REDIS_WAIT_REPLICAS, the first attempt may have
   * been stored and then refused for want of replicas, so its receivers never got it (receivers
   * ignore a seq they have).
   */
  deliver?: boolean;
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
  /** "" once deleted. */
  msg: string;
  /** When its author last edited it (ms). */
  editedAt?: number;
  /** Its author deleted it: a tombstone. */
  deleted?: true;
}

/** An author's change to a stored room message: with `edit`, a new envelope; without, a delete. */
export interface MessageChange {
  roomId: string;
  seq: number;
  /** Who asks (display or any case): only the message's sender may change it. */
  by: string;
  /** Server time of the change (ms). */
  at: number;
  edit?: { keyId: number; msg: string };
}

/**
 * What a change answers: done (with the edit's time), refused (no such `room`, `by` is
 * `not_member`, the message is `not_found` — never stored, trimmed, expired, cleared or deleted —
 * or `forbidden`: someone else's), or `staleKey`: an edit under a key that is not the current one.
 */
export type MessageChangeResult =
  | { changed: true; editedAt: number }
  | { refused: "room" | "not_member" | "not_found" | "forbidden" }
  | { staleKey: number };

export type AcceptResult = AcceptedMessage | { staleKey: number };

/** A room message's answer: refused when the sender is not a member of the room (checked in the same step). */
export type RoomAcceptResult = AcceptResult | { notMember: true };

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
  /** The name keys of the user's conversation partners, most recent first (at most `limit`); reads no conversation. */
  partners(me: string, limit: number): Promise<string[]>;
  /** Like RoomStore.acceptMessage; the sender's read seq moves to the new message. null: not opened yet. */
  accept(whisper: IncomingWhisper, cap: HistoryCap): Promise<AcceptResult | null>;
  /** Stored whispers of the conversation of `me` and `peer`, oldest first. */
  history(me: string, peer: string, query: HistoryQuery): Promise<Whisper[]>;
  /** `me` has read up to `seq` (never backwards, never past the last message). null: no conversation. */
  markRead(me: string, peer: string, seq: number): Promise<ConversationSummary | null>;
  /** The conversation's keys with these ids (unknown ids are left out). */
  keysById(conversationId: string, ids: number[]): Promise<RoomKey[]>;
  /** Deletes the conversation (meta, keys, history) and takes it off both participants' lists. */
  delete(conversationId: string): Promise<void>;
}

/** A page of the lobby by name: names are compared by nameKey (the caller folds `prefix` and `after`). */
export interface LobbyPageQuery {
  /** Only names that start with this ("" for all). */
  prefix: string;
  /** Only names after this name key (a previous page's `next`); null: from the start. */
  after: string | null;
  limit: number;
}

export interface LobbyPage<T> {
  items: T[];
  /** The name key of the last item when there are more after it; null otherwise. */
  next: string | null;
  /** The lobby revision the page reflects (read before the page). */
  rev: number;
}

/** The top of the lobby: what every socket is shown first, and its counts. */
export interface LobbyFirstPage {
  counts: LobbyCounts;
  /** Display names of the first `size` users online, in name order (nameKey). */
  users: string[];
  /** The `size` most active rooms (byActivity). */
  rooms: RoomSummary[];
  rev: number;
}

/**
 * The lobby's indexes, read in pages: nothing here reads every user or room. Online users by name,
 * rooms by name and by member count, kept by the presence and room stores as they change.
 */
export interface LobbyStore {
  firstPage(size: number): Promise<LobbyFirstPage>;
  /** Online users (display names) in name order. */
  userPage(query: LobbyPageQuery): Promise<LobbyPage<string>>;
  /** Rooms in name order. */
  roomPage(query: LobbyPageQuery): Promise<LobbyPage<RoomSummary>>;
  counts(): Promise<LobbyCounts>;
  /** Those of `usernames` who are online, as display names (order kept), and the lobby revision read just before. */
  onlineOf(usernames: string[]): Promise<{ rev: number; online: string[] }>;
  /** The lobby revision now. */
  rev(): Promise<number>;
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
  /**
   * `nodeId` no longer holds `username`; returns a transition when no node holds them any more.
   * The user stays listed in the lobby (its pages, counts, first page) until leaveLobby: through
   * the grace period, a reload or a node's drain does not show them leaving.
   */
  disconnect(nodeId: string, username: string): Promise<PresenceTransition | null>;
  isOnline(username: string): Promise<boolean>;
  /** Records that `nodeId` is alive; returns false when the node was not registered (new or swept). */
  heartbeat(nodeId: string, now: number): Promise<boolean>;
  /** Nodes whose last heartbeat is older than `now - ttlMs`. */
  deadNodes(now: number, ttlMs: number): Promise<string[]>;
  /**
   * Forgets a node and every socket it held; returns the users who thereby went offline (still
   * listed in the lobby until leaveLobby). Atomic: when several survivors sweep the same node, only
   * one of them gets the users.
   */
  sweepNode(nodeId: string): Promise<PresenceTransition[]>;
  /**
   * Queues an offline transition to be confirmed at `dueAt` (ms): a user who reconnects within the
   * grace period never appears to leave. Queued in shared state so any node can confirm it.
   */
  deferOffline(transition: PresenceTransition, dueAt: number): Promise<void>;
  /**
   * Takes a user who went offline (the transition with lobby revision `rev`) off the lobby, unless
   * they came online since (even briefly: that cancels this transition; a later departure has its
   * own). Returns the lobby revision of the change, or 0 when nothing changed.
   */
  leaveLobby(username: string, rev: number): Promise<number>;
  /** Takes the queued transitions due by `now`; atomic, so each is taken by exactly one node. */
  takeDueOffline(now: number): Promise<PresenceTransition[]>;
}

/** How many sockets one user, and one client address, may hold at once (0: no limit). */
export interface SocketCaps {
  perUser: number;
  perAddress: number;
}

/** What a socket's handshake is told: counted, or which cap is already reached. */
export type SocketAdmission = "ok" | "user" | "address";

/**
 * Sockets held per user and per client address across the cluster, counted per node. A node's
 * counts live as long as it keeps them (`keepAlive`): a node that dies stops, and its counts
 * expire with it, so they never hold anyone's slots for longer than `ttlMs`.
 */
export interface SocketCountStore {
  /**
   * Counts one more socket of `username` from `address` on `nodeId` if neither cap is reached
   * across the live nodes; otherwise counts nothing and names the cap. Atomic: handshakes racing
   * on any number of nodes never overshoot a cap.
   */
  acquire(nodeId: string, username: string, address: string, caps: SocketCaps, now: number, ttlMs: number): Promise<SocketAdmission>;
  /** One socket counted by `acquire` is gone (never below zero). */
  release(nodeId: string, username: string, address: string): Promise<void>;
  /**
   * Keeps the node's counts live until `now + ttlMs`. False when they had expired or were never
   * stamped (a node swept while alive, or new): the caller then writes them again with `restore`.
   */
  keepAlive(nodeId: string, now: number, ttlMs: number): Promise<boolean>;
  /** Replaces the node's counts with `sockets` (this node's own tally: user, address per socket). */
  restore(nodeId: string, sockets: Array<{ username: string; address: string }>, now: number, ttlMs: number): Promise<void>;
  /** Forgets every count of the node (its shutdown, or a restart under the same NODE_ID). */
  forgetNode(nodeId: string): Promise<void>;
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
  sessionIndex: SessionIndexStore;
  rooms: RoomStore;
  conversations: ConversationStore;
  presence: PresenceStore;
  lobby: LobbyStore;
  samples: SampleStore;
  socketCounts: SocketCountStore;
  audit: AuditStore;
}

