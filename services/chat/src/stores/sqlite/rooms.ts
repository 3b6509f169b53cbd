/**
 * Rooms in the embedded node's SQLite file (tables: room-tables.ts), with the behaviour of the
 * memory store (memory/rooms.ts, memory/message-log.ts) and of the Redis one's subtle cases
 * (redis/room-shard.ts, history-stream.ts, message-edits.ts): every decision that those take in one
 * step is one transaction here, and every statement is prepared once, in the constructor.
 *
 * Histories are trimmed logically at once and physically in bounded chunks (see room-tables.ts):
 * a room's `floor` moves with the count cap, its retention, the age cap and a clear, reads look
 * above it, and its rows below are deleted at most PURGE_CHUNK at a time — by a message's write
 * once TRIM_BATCH of them wait, by a clear or a retention at once, and whatever is left (a big
 * clear, a deleted room) by a drain that runs a chunk per turn of the event loop and resumes after
 * a restart from room_purge.
 *
 * What a message costs is mostly its commit, and a commit costs the pages it writes: a message
 * writes its history row and its room's row (seq, floor), and nothing else on most messages — the
 * trims come in batches, and its message id is kept in its row and looked up in memory (RecentIds).
 *
 * In the node this store runs on the SQLite store thread (thread/client.ts): "the event loop" here
 * is that thread's, which serves nothing else; the node's sockets never wait for it.
 */
import { compareNameKeys, type RoomKey, type RoomMessage, type RoomSummary } from "@sala/protocol";
import type { Statement } from "better-sqlite3";
import {
  MAX_BARRED_PER_ROOM,
  nameKey,
  oldestKept,
  type Admission,
  type Barring,
  type HistoryCap,
  type HistoryQuery,
  type IncomingMessage,
  type LobbyPageQuery,
  type MembershipChange,
  type MessageChange,
  type MessageChangeResult,
  type RoomAcceptResult,
  type RoomCreation,
  type RoomRecord,
  type RoomStore,
} from "../types.js";
import { confusableKey, NameConfusableError } from "../../domain/confusables.js";
import type { Revision } from "../memory/revision.js";
import { writeTransaction, type SqliteDatabase } from "./database.js";
import { isSqliteFileWide } from "./error-codes.js";

/** Rows deleted by one statement of a trim or purge: about a millisecond of work. */
const PURGE_CHUNK = 500;
/**
 * A write deletes the rows its room's floor left behind once there are this many: one statement
 * (a page or two) every TRIM_BATCH messages instead of one on every message — what a commit costs
 * is the pages it writes.
 */
const TRIM_BATCH = 64;
/** Head entries one write looks at for the age cap (as the Redis trim, at most 1000 a call). */
const AGE_SCAN = 1000;
/** One accept's answer, and the message id to remember once its transaction committed. */
interface AcceptOutcome {
  result: RoomAcceptResult | null;
  remember?: { rid: number; claim: string };
}

/** Messages accepted in one transaction at most (SqliteRoomStore.acceptMessage). */
const ACCEPT_BATCH = 256;

/** SQLite errors of the connection or the file, not of one message (a batch is not retried alone for them). */
function fileWide(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  if (typeof code !== "string") return error instanceof TypeError; // better-sqlite3: "The database connection is not open"
  return isSqliteFileWide(code);
}

/** A message waiting for its turn's transaction (SqliteRoomStore.acceptMessage). */
interface QueuedAccept {
  message: IncomingMessage;
  cap: HistoryCap;
  done: (result: RoomAcceptResult | null) => void;
  failed: (error: unknown) => void;
}

/** Message ids a room remembers at most (as the memory store's log): the oldest go first. */
const MAX_IDS_PER_ROOM = 10_000;
/** Expired message ids one send drops (as the Redis claim): more than one message brings. */
const EXPIRED_IDS_PER_SEND = 20;
/** MESSAGE_ID_WINDOW_SEC's default (config.ts): how long a sender's message id is remembered. */
export const DEFAULT_MESSAGE_ID_WINDOW_SEC = 600;
/** After a failed purge step (the file busy, say), the drain tries again this much later (ms). */
const PURGE_RETRY_MS = 1000;

/** A room's row: what every decision about it reads. */
interface RoomRow {
  rid: number;
  id: string;
  name: string;
  owner: string;
  password_hash: string | null;
  created_at: number;
  member_count: number;
  empty_since: number | null;
  key_id: number;
  seq: number;
  floor: number;
  retention: number | null;
}

interface MessageRow {
  seq: number;
  sender: string;
  ts: number;
  msg: string;
  edited_at: number | null;
  deleted: number;
}

type SummaryRow = Pick<RoomRow, "id" | "name" | "owner" | "password_hash" | "member_count" | "created_at"> & { name_key: string };

const ROOM_COLUMNS = "rid, id, name, owner, password_hash, created_at, member_count, empty_since, key_id, seq, floor, retention";
const SUMMARY_COLUMNS = "id, name, name_key, owner, password_hash, member_count, created_at";
const MESSAGE_COLUMNS = "seq, sender, ts, msg, edited_at, deleted";
/** The rid of the room with public id `?` (rooms.id is UNIQUE: one index probe). */
const RID = "(SELECT rid FROM rooms WHERE id = ?)";

export class SqliteRoomStore implements RoomStore {
  /** A drain of room_purge is scheduled. */
  private purging = false;

  private readonly roomById: Statement<[string], RoomRow>;
  private readonly ridByNameKey: Statement<[string], number>;
  private readonly nameBySkeleton: Statement<[string], string>;
  private readonly ownedCount: Statement<[string], number>;
  private readonly insertRoom: Statement<[string, string, string, string, string, string, string | null, number, number, number]>;
  private readonly insertKey: Statement<[number, number, string]>;
  private readonly memberName: Statement<[number, string], string>;
  private readonly insertMember: Statement<[number, string, string]>;
  private readonly deleteMember: Statement<[number, string]>;
  private readonly memberCountOf: Statement<[number], number>;
  private readonly markEmpty: Statement<[number, number]>;
  private readonly isBarred: Statement<[number, string], number>;
  private readonly barredCount: Statement<[number], number>;
  private readonly upsertBarred: Statement<[number, string, string]>;
  private readonly deleteBarred: Statement<[string, string]>;
  private readonly barredNames: Statement<[string], string>;
  private readonly memberNames: Statement<[string], string>;
  private readonly memberNamesOf: Statement<[number], string>;
  private readonly isMemberOf: Statement<[string, string], number>;
  private readonly idle: Statement<[number, number], string>;
  private readonly roomsOfUser: Statement<[string, number], string>;
  private readonly ownedIds: Statement<[string], string>;
  private readonly currentKeyOf: Statement<[string], RoomKey>;
  private readonly setKeyId: Statement<[number, number]>;
  private readonly keyById: Statement<[string, number], string>;
  private readonly deleteRoom: Statement<[number]>;
  private readonly enqueuePurge: Statement<[number]>;
  private readonly recentIds: RecentIds;
  private readonly idsSince: Statement<[number], { seq: number; ts: number; claim: string | null }>;
  private readonly insertMessage: Statement<[number, number, string, number, string, string | null]>;
  private readonly advance: Statement<[number, number, number]>;
  private readonly headTs: Statement<[number, number], number>;
  private readonly headChunk: Statement<[number, number, number], { seq: number; ts: number }>;
  private readonly oldestSeq: Statement<[number], number>;
  private readonly deleteUpTo: Statement<[number, number]>;
  private readonly messageOf: Statement<[number, number], MessageRow>;
  private readonly editMessage: Statement<[string, number, number, number]>;
  private readonly tombstone: Statement<[number, number]>;
  private readonly historyAfter: Statement<[number, number, number, number], MessageRow>;
  private readonly historyBefore: Statement<[number, number, number, number, number], MessageRow>;
  private readonly setFloor: Statement<[number, number]>;
  private readonly setOwnRetention: Statement<[number, number, number]>;
  private readonly nextPurge: Statement<[], number>;
  private readonly floorOf: Statement<[number], number>;
  private readonly purgeKeys: Statement<[number, number, number]>;
  private readonly dequeuePurge: Statement<[number]>;
  private readonly summaryById: Statement<[string], SummaryRow>;
  private readonly mostActiveRooms: Statement<[number], SummaryRow>;
  /** Pages by name: [from a name key on (inclusive) | after one (exclusive)] × [below a bound | to the end]. */
  private readonly namePages: Record<"ge" | "gt", { bounded: Statement<[string, string, number], SummaryRow>; open: Statement<[string, number], SummaryRow> }>;
  private readonly roomCount: Statement<[], number>;

  private readonly createTx: (room: RoomRecord, firstKey: RoomKey, maxOwned: number) => RoomCreation | { lookalikeOf: string };
  private readonly deleteTx: (roomId: string, idleBefore: number | undefined) => string[] | null;
  private readonly admitTx: (roomId: string, username: string, verifiedHash: string | null) => Admission;
  private readonly removeTx: (roomId: string, username: string, now: number, bar: boolean) => Barring;
  private readonly rotateTx: (roomId: string, key: string) => RoomKey | null;
  private readonly acceptTx: (message: IncomingMessage, cap: HistoryCap) => AcceptOutcome;
  private readonly acceptBatchTx: (batch: QueuedAccept[]) => AcceptOutcome[];
  /** Messages asked for in this turn of the event loop (acceptMessage). */
  private readonly accepting: QueuedAccept[] = [];
  private readonly changeTx: (change: MessageChange, cutoff: number) => MessageChangeResult;
  private readonly moveFloorTx: (roomId: string, retention: number | null) => void;
  private readonly purgeTx: (limit: number) => boolean;

  constructor(
    private readonly db: SqliteDatabase,
    private readonly revision: Revision,
    /** How long a sender's message id is remembered, so that a retry is answered, not posted again. */
    messageIdWindowSec = DEFAULT_MESSAGE_ID_WINDOW_SEC,
  ) {
    this.roomById = db.prepare(`SELECT ${ROOM_COLUMNS} FROM rooms WHERE id = ?`);
    this.ridByNameKey = db.prepare<[string], number>("SELECT rid FROM rooms WHERE name_key = ?").pluck();
    this.nameBySkeleton = db.prepare<[string], string>("SELECT name FROM rooms WHERE skeleton = ?").pluck();
    this.ownedCount = db.prepare<[string], number>("SELECT COUNT(*) FROM rooms WHERE owner_key = ?").pluck(); // rooms_by_owner
    this.insertRoom = db.prepare(
      `INSERT INTO rooms (id, name, name_key, skeleton, owner, owner_key, password_hash, created_at, empty_since, key_id)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.insertKey = db.prepare("INSERT INTO room_keys (rid, key_id, key) VALUES (?, ?, ?)");
    this.memberName = db.prepare<[number, string], string>("SELECT username FROM room_members WHERE rid = ? AND user_key = ?").pluck();
    this.insertMember = db.prepare("INSERT INTO room_members (rid, user_key, username) VALUES (?, ?, ?)");
    this.deleteMember = db.prepare("DELETE FROM room_members WHERE rid = ? AND user_key = ?");
    this.memberCountOf = db.prepare<[number], number>("SELECT member_count FROM rooms WHERE rid = ?").pluck();
    this.markEmpty = db.prepare("UPDATE rooms SET empty_since = ? WHERE rid = ? AND member_count = 0");
    this.isBarred = db.prepare<[number, string], number>("SELECT 1 FROM room_barred WHERE rid = ? AND user_key = ?").pluck();
    this.barredCount = db.prepare<[number], number>("SELECT COUNT(*) FROM room_barred WHERE rid = ?").pluck(); // at most MAX_BARRED_PER_ROOM rows
    this.upsertBarred = db.prepare(
      "INSERT INTO room_barred (rid, user_key, username) VALUES (?, ?, ?) ON CONFLICT (rid, user_key) DO UPDATE SET username = excluded.username",
    );
    this.deleteBarred = db.prepare(`DELETE FROM room_barred WHERE rid = ${RID} AND user_key = ?`);
    this.barredNames = db.prepare<[string], string>(`SELECT username FROM room_barred WHERE rid = ${RID}`).pluck();
    this.memberNames = db.prepare<[string], string>(`SELECT username FROM room_members WHERE rid = ${RID}`).pluck();
    this.memberNamesOf = db.prepare<[number], string>("SELECT username FROM room_members WHERE rid = ?").pluck();
    this.isMemberOf = db.prepare<[string, string], number>(`SELECT 1 FROM room_members WHERE rid = ${RID} AND user_key = ?`).pluck();
    this.idle = db.prepare<[number, number], string>("SELECT id FROM rooms WHERE empty_since < ? ORDER BY empty_since, id LIMIT ?").pluck(); // rooms_idle
    this.roomsOfUser = db
      .prepare<[string, number], string>("SELECT r.id FROM room_members m JOIN rooms r ON r.rid = m.rid WHERE m.user_key = ? LIMIT ?") // room_members_by_user
      .pluck();
    this.ownedIds = db.prepare<[string], string>("SELECT id FROM rooms WHERE owner_key = ?").pluck(); // rooms_by_owner
    this.currentKeyOf = db.prepare("SELECT r.key_id AS id, k.key AS key FROM rooms r JOIN room_keys k ON k.rid = r.rid AND k.key_id = r.key_id WHERE r.id = ?");
    this.setKeyId = db.prepare("UPDATE rooms SET key_id = ? WHERE rid = ?");
    this.keyById = db.prepare<[string, number], string>(`SELECT key FROM room_keys WHERE rid = ${RID} AND key_id = ?`).pluck();
    this.deleteRoom = db.prepare("DELETE FROM rooms WHERE rid = ?");
    this.enqueuePurge = db.prepare("INSERT OR IGNORE INTO room_purge (rid) VALUES (?)");
    // Newest first, read until past the window (RecentIds below).
    this.idsSince = db.prepare("SELECT seq, ts, claim FROM room_messages WHERE rid = ? ORDER BY seq DESC");
    this.recentIds = new RecentIds(messageIdWindowSec * 1000, (rid, since) => this.storedIds(rid, since));
    this.insertMessage = db.prepare("INSERT INTO room_messages (rid, seq, sender, ts, msg, claim) VALUES (?, ?, ?, ?, ?, ?)");
    this.advance = db.prepare("UPDATE rooms SET seq = ?, floor = ? WHERE rid = ?");
    this.headTs = db.prepare<[number, number], number>("SELECT ts FROM room_messages WHERE rid = ? AND seq > ? ORDER BY seq LIMIT 1").pluck();
    this.headChunk = db.prepare("SELECT seq, ts FROM room_messages WHERE rid = ? AND seq > ? ORDER BY seq LIMIT ?");
    this.oldestSeq = db.prepare<[number], number>("SELECT seq FROM room_messages WHERE rid = ? ORDER BY seq LIMIT 1").pluck();
    this.deleteUpTo = db.prepare("DELETE FROM room_messages WHERE rid = ? AND seq <= ?");
    this.messageOf = db.prepare(`SELECT ${MESSAGE_COLUMNS} FROM room_messages WHERE rid = ? AND seq = ?`);
    this.editMessage = db.prepare("UPDATE room_messages SET msg = ?, edited_at = ? WHERE rid = ? AND seq = ?");
    this.tombstone = db.prepare("UPDATE room_messages SET msg = '', edited_at = NULL, deleted = 1 WHERE rid = ? AND seq = ?");
    // The ts filter reads rows the (rid, seq) range already narrowed: only entries past the age cap
    // that no write trimmed yet (a backlog, a slow clock's) are read and skipped.
    this.historyAfter = db.prepare(`SELECT ${MESSAGE_COLUMNS} FROM room_messages WHERE rid = ? AND seq > ? AND ts >= ? ORDER BY seq LIMIT ?`);
    this.historyBefore = db.prepare(
      `SELECT ${MESSAGE_COLUMNS} FROM room_messages WHERE rid = ? AND seq > ? AND seq < ? AND ts >= ? ORDER BY seq DESC LIMIT ?`,
    );
    this.setFloor = db.prepare("UPDATE rooms SET floor = ? WHERE rid = ?");
    this.setOwnRetention = db.prepare("UPDATE rooms SET retention = ?, floor = ? WHERE rid = ?");
    this.nextPurge = db.prepare<[], number>("SELECT rid FROM room_purge LIMIT 1").pluck();
    this.floorOf = db.prepare<[number], number>("SELECT floor FROM rooms WHERE rid = ?").pluck();
    this.purgeKeys = db.prepare("DELETE FROM room_keys WHERE rid = ? AND key_id IN (SELECT key_id FROM room_keys WHERE rid = ? LIMIT ?)");
    this.dequeuePurge = db.prepare("DELETE FROM room_purge WHERE rid = ?");
    this.summaryById = db.prepare(`SELECT ${SUMMARY_COLUMNS} FROM rooms WHERE id = ?`);
    this.mostActiveRooms = db.prepare(`SELECT ${SUMMARY_COLUMNS} FROM rooms ORDER BY member_count DESC, id DESC LIMIT ?`); // rooms_by_activity
    // The name key's UNIQUE index: one seek, then the page.
    const page = <P extends unknown[]>(lower: string, bounded: boolean) =>
      db.prepare<P, SummaryRow>(`SELECT ${SUMMARY_COLUMNS} FROM rooms WHERE name_key ${lower} ?${bounded ? " AND name_key < ?" : ""} ORDER BY name_key LIMIT ?`);
    this.namePages = {
      ge: { bounded: page<[string, string, number]>(">=", true), open: page<[string, number]>(">=", false) },
      gt: { bounded: page<[string, string, number]>(">", true), open: page<[string, number]>(">", false) },
    };
    this.roomCount = db.prepare<[], number>("SELECT rooms FROM room_counts").pluck();

    this.createTx = writeTransaction(db, (room, firstKey, maxOwned) => this.createIn(room, firstKey, maxOwned));
    this.deleteTx = writeTransaction(db, (roomId, idleBefore) => this.deleteIn(roomId, idleBefore));
    this.admitTx = writeTransaction(db, (roomId, username, verifiedHash) => this.admitIn(roomId, username, verifiedHash));
    this.removeTx = writeTransaction(db, (roomId, username, now, bar) => this.removeIn(roomId, username, now, bar));
    this.rotateTx = writeTransaction(db, (roomId, key) => this.rotateIn(roomId, key));
    this.acceptTx = writeTransaction(db, (message, cap) => this.acceptIn(message, cap));
    this.acceptBatchTx = writeTransaction(db, (batch: QueuedAccept[]) => {
      const claims = new Map<string, { seq: number; ts: number }>();
      return batch.map(({ message, cap }) => this.acceptIn(message, cap, claims));
    });
    this.changeTx = writeTransaction(db, (change, cutoff) => this.changeIn(change, cutoff));
    this.moveFloorTx = writeTransaction(db, (roomId, retention) => this.moveFloorIn(roomId, retention));
    this.purgeTx = writeTransaction(db, (limit) => this.purgeIn(limit));

    // Rows a previous run left to purge (it stopped, or died, mid-drain).
    if (this.nextPurge.get() !== undefined) this.schedulePurge();
  }

  async create(room: RoomRecord, firstKey: RoomKey, maxOwned: number): Promise<RoomCreation> {
    const answer = this.createTx(room, firstKey, maxOwned);
    if ("lookalikeOf" in answer) throw new NameConfusableError("room", answer.lookalikeOf);
    return answer;
  }

  private createIn(room: RoomRecord, firstKey: RoomKey, maxOwned: number): RoomCreation | { lookalikeOf: string } {
    const key = nameKey(room.name);
    if (this.ridByNameKey.get(key) !== undefined || this.roomById.get(room.id)) return { created: false, reason: "name_taken" };
    const look = confusableKey(room.name);
    const lookalike = this.nameBySkeleton.get(look);
    if (lookalike !== undefined) return { lookalikeOf: lookalike };
    const owner = nameKey(room.owner);
    if (maxOwned > 0 && (this.ownedCount.get(owner) ?? 0) >= maxOwned) return { created: false, reason: "quota" };
    // A new room is empty: idle from its creation.
    const { lastInsertRowid } = this.insertRoom.run(room.id, room.name, key, look, room.owner, owner, room.passwordHash, room.createdAt, room.createdAt, firstKey.id);
    this.insertKey.run(Number(lastInsertRowid), firstKey.id, firstKey.key);
    return { created: true, rev: this.revision.next() };
  }

  async get(roomId: string): Promise<RoomRecord | null> {
    const row = this.roomById.get(roomId);
    return row ? { id: row.id, name: row.name, owner: row.owner, passwordHash: row.password_hash, createdAt: row.created_at } : null;
  }

  async summary(roomId: string): Promise<RoomSummary | null> {
    const row = this.summaryById.get(roomId);
    return row ? summarize(row) : null;
  }

  async summaries(roomIds: string[]): Promise<RoomSummary[]> {
    return roomIds.flatMap((id) => {
      const row = this.summaryById.get(id);
      return row ? [summarize(row)] : [];
    });
  }

  async delete(roomId: string, idleBefore?: number): Promise<{ members: string[]; rev: number } | null> {
    const members = this.deleteTx(roomId, idleBefore);
    if (members === null) return null;
    this.recentIds.forget(roomId);
    this.schedulePurge();
    return { members, rev: this.revision.next() };
  }

  private deleteIn(roomId: string, idleBefore: number | undefined): string[] | null {
    const room = this.roomById.get(roomId);
    if (!room) return null;
    // Only a room still empty, and since before `idleBefore` (empty_since is NULL while it has members).
    if (idleBefore !== undefined && !(room.empty_since !== null && room.empty_since < idleBefore)) return null;
    const members = this.memberNamesOf.all(room.rid);
    // Members and bars go with the row (cascade); messages and keys are purged after.
    this.deleteRoom.run(room.rid);
    this.enqueuePurge.run(room.rid);
    return members;
  }

  async admit(roomId: string, username: string, verifiedHash: string | null): Promise<Admission> {
    return this.admitTx(roomId, username, verifiedHash);
  }

  private admitIn(roomId: string, username: string, verifiedHash: string | null): Admission {
    const room = this.roomById.get(roomId);
    if (!room) return { changed: false, memberCount: 0, rev: 0, username };
    const key = nameKey(username);
    const existing = this.memberName.get(room.rid, key);
    if (existing !== undefined) return { changed: false, memberCount: room.member_count, rev: 0, username: existing };
    if (this.isBarred.get(room.rid, key) !== undefined) return { refused: "barred" };
    if (room.password_hash !== null && room.password_hash !== verifiedHash) return { refused: "password" };
    this.insertMember.run(room.rid, key, username); // its trigger counts them and ends the idle time
    return { changed: true, memberCount: room.member_count + 1, rev: this.revision.next(), username };
  }

  async removeMember(roomId: string, username: string, now: number): Promise<MembershipChange> {
    const change = this.removeTx(roomId, username, now, false);
    // Without a bar there is no refusal: a change, or no such room.
    return change && "changed" in change ? change : { changed: false, memberCount: 0, rev: 0, username };
  }

  async bar(roomId: string, username: string, now: number): Promise<Barring> {
    return this.removeTx(roomId, username, now, true);
  }

  /** Takes the user out of the room (and with `bar`, bars them first); null: no such room. */
  private removeIn(roomId: string, username: string, now: number, bar: boolean): Barring {
    const room = this.roomById.get(roomId);
    if (!room) return null;
    const key = nameKey(username);
    const stored = this.memberName.get(room.rid, key);
    if (bar) {
      if (this.isBarred.get(room.rid, key) === undefined && (this.barredCount.get(room.rid) ?? 0) >= MAX_BARRED_PER_ROOM) return { refused: "full" };
      this.upsertBarred.run(room.rid, key, stored ?? username);
    }
    if (stored === undefined) return { changed: false, memberCount: room.member_count, rev: 0, username };
    this.deleteMember.run(room.rid, key);
    const memberCount = this.memberCountOf.get(room.rid) ?? 0;
    if (memberCount === 0) this.markEmpty.run(now, room.rid);
    return { changed: true, memberCount, rev: this.revision.next(), username: stored };
  }

  async unbar(roomId: string, username: string): Promise<boolean> {
    return this.deleteBarred.run(roomId, nameKey(username)).changes === 1;
  }

  async barred(roomId: string): Promise<string[]> {
    return this.barredNames.all(roomId);
  }

  async idleRooms(before: number, limit: number): Promise<string[]> {
    return this.idle.all(before, Math.max(0, limit));
  }

  async members(roomId: string): Promise<string[]> {
    return this.memberNames.all(roomId);
  }

  async isMember(roomId: string, username: string): Promise<boolean> {
    return this.isMemberOf.get(roomId, nameKey(username)) !== undefined;
  }

  async ownedBy(username: string): Promise<string[]> {
    return this.ownedIds.all(nameKey(username));
  }

  async roomsOf(username: string, limit?: number): Promise<string[]> {
    return this.roomsOfUser.all(nameKey(username), limit === undefined ? -1 : Math.max(0, limit)); // LIMIT -1: all
  }

  async currentKey(roomId: string): Promise<RoomKey | null> {
    return this.currentKeyOf.get(roomId) ?? null;
  }

  async rotateKey(roomId: string, key: string): Promise<RoomKey> {
    const rotated = this.rotateTx(roomId, key);
    if (!rotated) throw new Error(`rotateKey: no room ${roomId}`);
    return rotated;
  }

  private rotateIn(roomId: string, key: string): RoomKey | null {
    const room = this.roomById.get(roomId);
    if (!room) return null;
    const id = room.key_id + 1;
    this.setKeyId.run(id, room.rid);
    this.insertKey.run(room.rid, id, key);
    return { id, key };
  }

  /**
   * Messages are accepted a turn of the event loop at a time, all those asked for in one turn in one
   * transaction (group commit): the commit was ≈ 80 µs of the event loop per message, most of what
   * SQLite added to a message's cost (docs/BENCHMARKS.md, session 15). A message is answered only
   * once its transaction committed; should a batch fail, each of its messages is tried alone, so
   * one message's error is its own.
   */
  acceptMessage(message: IncomingMessage, cap: HistoryCap): Promise<RoomAcceptResult | null> {
    return new Promise((done, failed) => {
      this.accepting.push({ message, cap, done, failed });
      if (this.accepting.length === 1) setImmediate(() => this.acceptQueued());
    });
  }

  private acceptQueued(): void {
    // At most ACCEPT_BATCH a transaction, so that a burst's first acks do not wait for its last.
    const batch = this.accepting.splice(0, ACCEPT_BATCH);
    if (this.accepting.length > 0) setImmediate(() => this.acceptQueued());
    let outcomes: AcceptOutcome[];
    try {
      outcomes = this.acceptBatchTx(batch);
    } catch (error) {
      // The file itself failing (busy past its timeout, full, closed, unreadable) fails every
      // message alike: trying each alone would only wait again, once per message.
      if (batch.length === 1 || fileWide(error)) {
        for (const { failed } of batch) failed(error);
        return;
      }
      for (const { message, cap, done, failed } of batch) {
        try {
          done(this.answered(message, [this.acceptTx(message, cap)])[0]!);
        } catch (error) {
          failed(error);
        }
      }
      return;
    }
    batch.forEach(({ message, done }, i) => done(this.answered(message, [outcomes[i]!])[0]!));
  }

  /** The results of committed accepts; their message ids remembered only now, once committed. */
  private answered(message: IncomingMessage, outcomes: AcceptOutcome[]): Array<RoomAcceptResult | null> {
    return outcomes.map(({ result, remember }) => {
      // An id remembered for a message that was never stored would answer its retry as a repeat.
      if (remember && result && "seq" in result) this.recentIds.remember(message.roomId, remember.rid, remember.claim, result.seq, result.ts);
      return result;
    });
  }

  private acceptIn(message: IncomingMessage, cap: HistoryCap, batch?: Map<string, { seq: number; ts: number }>): AcceptOutcome {
    const room = this.roomById.get(message.roomId);
    if (!room) return { result: null };
    const { from, ts, msg, clientId } = message;
    const sender = nameKey(from);
    if (this.memberName.get(room.rid, sender) === undefined) return { result: { notMember: true } };
    // Scoped by sender: another member reusing an id is not mistaken for a repeat.
    const claim = clientId ? `${sender}:${clientId}` : null;
    if (claim !== null) {
      // A repeat of a message of this same batch (not remembered until it commits), or of an earlier one.
      const earlier = batch?.get(`${room.rid}|${claim}`) ?? this.recentIds.find(message.roomId, room.rid, claim, ts);
      if (earlier) return { result: { seq: earlier.seq, ts: earlier.ts, duplicate: true, announced: false } };
    }
    if (message.keyId !== room.key_id) return { result: { staleKey: room.key_id } };
    const seq = room.seq + 1;
    const maxMessages = Math.max(0, Math.min(cap.maxMessages, room.retention ?? cap.maxMessages));
    if (maxMessages > 0) this.insertMessage.run(room.rid, seq, from, ts, msg, claim);
    const floor = this.ageFloor(room.rid, Math.max(room.floor, seq - maxMessages), oldestKept(cap, ts));
    this.advance.run(seq, floor, room.rid);
    if (floor > room.floor) this.trim(room.rid, floor, TRIM_BATCH);
    if (claim !== null) batch?.set(`${room.rid}|${claim}`, { seq, ts });
    return { result: { seq, ts, duplicate: false, announced: false }, ...(claim !== null ? { remember: { rid: room.rid, claim } } : {}) };
  }

  /**
   * The message ids of the room's latest MAX_IDS_PER_ROOM stored messages accepted since `since`
   * (ms), newest first: the window never holds more, and reading further would hold the event loop
   * in the accepting transaction (a big HISTORY_MAX with a long MESSAGE_ID_WINDOW_SEC).
   */
  private *storedIds(rid: number, since: number): Generator<{ claim: string; seq: number; ts: number }> {
    let rows = 0;
    for (const row of this.idsSince.iterate(rid)) {
      if (row.ts < since || rows++ >= MAX_IDS_PER_ROOM) return; // ts grows with seq (one node's clock): the rest is older
      if (row.claim !== null) yield { claim: row.claim, seq: row.seq, ts: row.ts };
    }
  }

  /**
   * The floor once the head entries older than `cutoff` are gone (0 or less: no age cap): up to
   * the first entry young enough, as the memory log trims (an old entry behind it — a slow clock's
   * — stays, and readers skip it). One probe of the head while it is young, which is nearly always;
   * an expired backlog goes AGE_SCAN entries per write.
   */
  private ageFloor(rid: number, floor: number, cutoff: number): number {
    if (cutoff <= 0) return floor;
    const head = this.headTs.get(rid, floor);
    if (head === undefined || head >= cutoff) return floor;
    const entries = this.headChunk.all(rid, floor, AGE_SCAN);
    const young = entries.find((entry) => entry.ts >= cutoff);
    return young ? young.seq - 1 : (entries.at(-1)?.seq ?? floor);
  }

  /**
   * Deletes a chunk of the room's rows at or below `floor`, once at least `batch` of them wait (1:
   * any); what a chunk does not take, the drain does.
   */
  private trim(rid: number, floor: number, batch = 1): void {
    const oldest = this.oldestSeq.get(rid);
    if (oldest === undefined || floor - oldest + 1 < batch) return;
    if (!this.deleteBelow(rid, oldest, floor, PURGE_CHUNK)) return;
    this.enqueuePurge.run(rid);
    this.schedulePurge();
  }

  /**
   * Deletes the room's rows from `oldest` (its oldest row's seq) to `floor`, at most `limit` of them
   * — seqs are distinct integers, so a range of `limit` seqs holds no more — in one range delete on
   * the primary key. → whether rows at or below the floor remain.
   */
  private deleteBelow(rid: number, oldest: number, floor: number, limit: number): boolean {
    if (oldest > floor) return false;
    const upTo = Math.min(floor, oldest + limit - 1);
    this.deleteUpTo.run(rid, upTo);
    return upTo < floor;
  }

  async changeMessage(change: MessageChange, cap: Pick<HistoryCap, "maxAgeMs">): Promise<MessageChangeResult> {
    return this.changeTx(change, oldestKept(cap, change.at));
  }

  private changeIn(change: MessageChange, cutoff: number): MessageChangeResult {
    const room = this.roomById.get(change.roomId);
    if (!room) return { refused: "room" };
    if (this.memberName.get(room.rid, nameKey(change.by)) === undefined) return { refused: "not_member" };
    const entry = change.seq > room.floor ? this.messageOf.get(room.rid, change.seq) : undefined;
    if (!entry || entry.deleted === 1 || entry.ts < cutoff) return { refused: "not_found" };
    if (nameKey(entry.sender) !== nameKey(change.by)) return { refused: "forbidden" };
    const { edit } = change;
    if (edit && edit.keyId !== room.key_id) return { staleKey: room.key_id };
    // Later than the previous edit even if the clock went back: receivers keep the latest.
    const editedAt = Math.max(change.at, (entry.edited_at ?? 0) + 1);
    if (edit) this.editMessage.run(edit.msg, editedAt, room.rid, change.seq);
    else this.tombstone.run(room.rid, change.seq);
    return { changed: true, editedAt };
  }

  async history(roomId: string, query: HistoryQuery): Promise<RoomMessage[]> {
    const room = this.roomById.get(roomId);
    if (!room) return [];
    const notBefore = query.notBefore || Number.MIN_SAFE_INTEGER;
    const limit = Math.max(0, query.limit);
    const rows =
      query.afterSeq !== undefined
        ? this.historyAfter.all(room.rid, Math.max(room.floor, query.afterSeq), notBefore, limit)
        : this.historyBefore.all(room.rid, room.floor, query.beforeSeq ?? Number.MAX_SAFE_INTEGER, notBefore, limit).reverse();
    return rows.map((row) => toMessage(roomId, row));
  }

  async clearHistory(roomId: string): Promise<void> {
    this.moveFloorTx(roomId, null);
  }

  async setRetention(roomId: string, maxMessages: number): Promise<void> {
    this.moveFloorTx(roomId, Math.max(0, maxMessages));
  }

  /** A clear (`retention` null: every message goes) or the room's own retention (its latest `retention` stay). */
  private moveFloorIn(roomId: string, retention: number | null): void {
    const room = this.roomById.get(roomId);
    if (!room) return;
    const floor = retention === null ? room.seq : Math.max(room.floor, room.seq - retention);
    if (retention === null) this.setFloor.run(floor, room.rid);
    else this.setOwnRetention.run(retention, floor, room.rid);
    if (floor > room.floor) this.trim(room.rid, floor);
  }

  async keysById(roomId: string, ids: number[]): Promise<RoomKey[]> {
    return [...new Set(ids)].flatMap((id) => {
      const key = this.keyById.get(roomId, id);
      return key !== undefined ? [{ id, key }] : [];
    });
  }

  /** The lobby's most active rooms (byActivity), at most `limit`. */
  mostActive(limit: number): RoomSummary[] {
    return this.mostActiveRooms.all(Math.max(0, limit)).map(summarize);
  }

  /**
   * A page of rooms in name order (the lobby's `roomPage`, as memory/lobby.ts namePage reads its
   * index): name keys starting with `prefix` — from the prefix, or after `after` when that is not
   * before it — at most `limit`, and the last one's key when more follow.
   */
  pageByName({ prefix, after, limit }: LobbyPageQuery): { items: RoomSummary[]; next: string | null } {
    const from = after !== null && compareNameKeys(after, prefix) >= 0 ? { op: "gt" as const, key: after } : { op: "ge" as const, key: prefix };
    const end = prefixEnd(prefix);
    const take = Math.max(0, limit) + 1;
    const pages = this.namePages[from.op];
    const rows = end === null ? pages.open.all(from.key, take) : pages.bounded.all(from.key, end, take);
    const more = rows.length > limit;
    if (more) rows.length = Math.max(0, limit);
    return { items: rows.map(summarize), next: more ? (rows.at(-1)?.name_key ?? null) : null };
  }

  /** How many rooms exist. */
  count(): number {
    return this.roomCount.get() ?? 0;
  }

  /**
   * One step of the purge: up to `limit` rows of each kind of the first room queued in room_purge
   * (its messages at or below its floor; the room gone, all its messages and keys),
   * and the room off the queue once nothing is left. → whether any room may still be queued.
   */
  purgeStep(limit = PURGE_CHUNK): boolean {
    return this.purgeTx(limit);
  }

  private purgeIn(limit: number): boolean {
    const rid = this.nextPurge.get();
    if (rid === undefined) return false;
    const floor = this.floorOf.get(rid);
    const oldest = this.oldestSeq.get(rid);
    let full = oldest !== undefined && this.deleteBelow(rid, oldest, floor ?? Number.MAX_SAFE_INTEGER, limit);
    if (floor === undefined) {
      full = this.purgeKeys.run(rid, rid, limit).changes === limit || full;
    }
    if (!full) this.dequeuePurge.run(rid);
    return true;
  }

  /** Drains room_purge a step per turn of the event loop, never keeping the process alive for it. */
  private schedulePurge(delayMs = 0): void {
    if (this.purging) return;
    this.purging = true;
    const step = () => {
      this.purging = false;
      if (!this.db.open) return;
      try {
        if (this.purgeStep()) this.schedulePurge();
      } catch {
        // The rows stay queued: tried again a little later (and by the next run, at its start).
        this.schedulePurge(PURGE_RETRY_MS);
      }
    };
    (delayMs > 0 ? setTimeout(step, delayMs) : setImmediate(step)).unref();
  }
}

function summarize(row: SummaryRow): RoomSummary {
  return { id: row.id, name: row.name, owner: row.owner, isPrivate: row.password_hash !== null, memberCount: row.member_count, createdAt: row.created_at };
}

function toMessage(roomId: string, row: MessageRow): RoomMessage {
  const message: RoomMessage = { roomId, seq: row.seq, from: row.sender, ts: row.ts, msg: row.msg };
  if (row.deleted === 1) message.deleted = true;
  else if (row.edited_at !== null) message.editedAt = row.edited_at;
  return message;
}

/**
 * The least string after every string that starts with `prefix`, in code point order (SQLite's
 * BINARY order of UTF-8): `prefix` with its last code point one up (past the surrogates, which
 * UTF-8 cannot hold; a last U+10FFFF is dropped and the one before goes up). null: no such bound
 * (an empty prefix, or only U+10FFFF): the page runs to the end of the index.
 */
export function prefixEnd(prefix: string): string | null {
  const points = Array.from(prefix, (char) => char.codePointAt(0)!);
  while (points.length > 0) {
    let last = points.pop()! + 1;
    if (last >= 0xd800 && last <= 0xdfff) last = 0xe000;
    if (last <= 0x10ffff) return String.fromCodePoint(...points, last);
  }
  return null;
}

/**
 * The message ids each room accepted within the window (MESSAGE_ID_WINDOW_SEC), so that a send
 * repeated within it gets its first answer: looked up here, in memory, rather than in an index of
 * the file, which would add a page write to every message's commit. They are not lost with the
 * process: each stored message keeps its id in its row (room_messages.claim), and a room's ids are
 * read back from its newest rows the first time it is sent to after a start. (An id whose message
 * was not stored — a room keeping no history — lives as long as the process.) Like the memory
 * store, a room remembers at most MAX_IDS_PER_ROOM; like the Redis one, ids expire with the window,
 * counted from the sending message's ts.
 */
class RecentIds {
  /** Room id → its rid (ids of a deleted room never answer for a new one of the same id) and its ids, oldest first. */
  private readonly rooms = new Map<string, { rid: number; ids: Map<string, { seq: number; ts: number }> }>();

  constructor(
    private readonly windowMs: number,
    /** The stored ids of a room since a time, newest first. */
    private readonly stored: (rid: number, since: number) => Iterable<{ claim: string; seq: number; ts: number }>,
  ) {}

  /** The first answer to `claim` if it came within the window before `now`. */
  find(roomId: string, rid: number, claim: string, now: number): { seq: number; ts: number } | undefined {
    const earlier = this.of(roomId, rid, now).get(claim);
    return earlier && earlier.ts + this.windowMs > now ? earlier : undefined;
  }

  remember(roomId: string, rid: number, claim: string, seq: number, ts: number): void {
    const ids = this.of(roomId, rid, ts);
    ids.delete(claim);
    ids.set(claim, { seq, ts });
    if (ids.size > MAX_IDS_PER_ROOM) ids.delete(ids.keys().next().value!);
  }

  forget(roomId: string): void {
    this.rooms.delete(roomId);
  }

  /** The room's ids, read back from its rows on first use, with up to EXPIRED_IDS_PER_SEND expired ones dropped. */
  private of(roomId: string, rid: number, now: number): Map<string, { seq: number; ts: number }> {
    let room = this.rooms.get(roomId);
    if (room?.rid !== rid) {
      const newestFirst = [...this.stored(rid, now - this.windowMs)];
      room = { rid, ids: new Map(newestFirst.reverse().map(({ claim, seq, ts }) => [claim, { seq, ts }])) };
      this.rooms.set(roomId, room);
    }
    let dropped = 0;
    for (const [claim, { ts }] of room.ids) {
      if (ts + this.windowMs > now || dropped++ >= EXPIRED_IDS_PER_SEND) break;
      room.ids.delete(claim);
    }
    return room.ids;
  }
}
