import { setImmediate as nextTurn } from "node:timers/promises";
import { conversationId, partnerIn, type ConversationSummary, type RoomKey, type Whisper } from "@sala/protocol";
import type { Statement } from "better-sqlite3";
import {
  nameKey,
  oldestKept,
  type AcceptResult,
  type ConversationStore,
  type HistoryCap,
  type HistoryQuery,
  type IncomingWhisper,
  type StoredMessage,
} from "../types.js";
import { writeTransaction, type SqliteDatabase } from "./database.js";

/** Messages a length trim deletes per accept at most (normally one: the message the new one pushed out). */
const TRIM_CHUNK = 1000;
/** Head messages an age trim looks at per accept at most (it runs about once per age-cap period). */
const AGE_TRIM_CHUNK = 1000;
/** A deleted conversation's messages deleted per transaction; the event loop runs between chunks. */
const PURGE_CHUNK = 2000;
/** Expired message ids dropped per claim: more than one message brings, so the table stays about a window's worth. */
const EXPIRED_IDS_PER_CLAIM = 20;
/** The default of MESSAGE_ID_WINDOW_SEC (config.ts). */
const DEFAULT_MESSAGE_ID_WINDOW_SEC = 600;

interface ConversationRow {
  ref: number;
  keyId: number;
  seq: number;
  lastTs: number;
  keptFrom: number;
  headTs: number;
}

interface ParticipantRow {
  nameKey: string;
  username: string;
  readSeq: number;
}

interface ListedRow {
  id: string;
  seq: number;
  lastTs: number;
  readSeq: number;
  peer: string;
}

/**
 * Conversations in SQLite (account-tables.ts): a row per conversation, its participants (display
 * name, read seq, place in their list), keys, numbered history and recent message ids, each
 * multi-step change one transaction. The same rules as the memory and Redis stores: history capped
 * by length and age (reads skip what the trims have not reached yet), a sender's message id answered
 * once within the window, unread = last seq − the reader's read seq.
 */
export class SqliteConversationStore implements ConversationStore {
  private readonly conversation: Statement<[string], ConversationRow>;
  private readonly insertConversation: Statement<[string]>;
  private readonly insertKey: Statement<[number, number, string]>;
  private readonly insertParticipant: Statement<[number, string, string]>;
  private readonly listFor: Statement<[number, number, string]>;
  private readonly participants: Statement<[number], ParticipantRow>;
  private readonly keyOf: Statement<[number, number], { key: string }>;
  private readonly listed: Statement<[string, number], ListedRow>;
  private readonly listedIds: Statement<[string, number], { id: string }>;
  private readonly earlierId: Statement<[number, string, number], { seq: number; ts: number }>;
  private readonly insertMessage: Statement<[number, number, string, number, string]>;
  private readonly advance: Statement<{ ref: number; seq: number; ts: number; keptFrom: number }>;
  private readonly trimBelow: Statement<[number, number, number]>;
  private readonly head: Statement<[number, number], { seq: number; ts: number }>;
  private readonly deleteBefore: Statement<[number, number]>;
  private readonly setHeadTs: Statement<[number, number]>;
  private readonly listForBoth: Statement<[number, number]>;
  private readonly setRead: Statement<[number, number, string]>;
  private readonly dropExpiredIds: Statement<[number, number]>;
  private readonly claimId: Statement<[number, string, number, number, number]>;
  private readonly after: Statement<{ ref: number; from: number; notBefore: number; limit: number }, StoredMessage>;
  private readonly before: Statement<{ ref: number; below: number; from: number; notBefore: number; limit: number }, StoredMessage>;
  private readonly removeConversation: Statement<[number]>;
  private readonly queuePurge: Statement<[number]>;
  private readonly pendingPurges: Statement<[], { conversation: number }>;
  private readonly purgeChunk: Statement<[number, number]>;
  private readonly purgeDone: Statement<[number]>;
  private readonly openTx: (id: string, me: string, peer: string, key: string) => { conversation: ConversationSummary; key: RoomKey };
  private readonly acceptTx: (id: string, whisper: IncomingWhisper, cap: HistoryCap) => AcceptResult | null;
  private readonly markReadTx: (id: string, me: string, seq: number) => ConversationSummary | null;
  private readonly deleteTx: (id: string) => void;
  private readonly purgeTx: (ref: number) => boolean;

  constructor(
    private readonly db: SqliteDatabase,
    /** How long a sender's message id is remembered (MESSAGE_ID_WINDOW_SEC), so that a retry is answered, not posted again. */
    private readonly messageIdWindowSec = DEFAULT_MESSAGE_ID_WINDOW_SEC,
  ) {
    this.conversation = db.prepare(
      "SELECT ref, key_id AS keyId, seq, last_ts AS lastTs, kept_from AS keptFrom, head_ts AS headTs FROM conversations WHERE id = ?",
    );
    this.insertConversation = db.prepare("INSERT INTO conversations (id, key_id) VALUES (?, 1)");
    this.insertKey = db.prepare("INSERT INTO conversation_keys (conversation, key_id, key) VALUES (?, ?, ?)");
    // OR IGNORE: a conversation with oneself has one participant.
    this.insertParticipant = db.prepare("INSERT OR IGNORE INTO conversation_participants (conversation, name_key, username) VALUES (?, ?, ?)");
    // Listed with the time of its latest message, if it is not listed already (as Redis's ZADD NX).
    this.listFor = db.prepare("UPDATE conversation_participants SET listed_ts = ? WHERE conversation = ? AND name_key = ? AND listed_ts IS NULL");
    this.participants = db.prepare("SELECT name_key AS nameKey, username, read_seq AS readSeq FROM conversation_participants WHERE conversation = ?");
    this.keyOf = db.prepare("SELECT key FROM conversation_keys WHERE conversation = ? AND key_id = ?");
    // A user's list by the conversation_lists index, most recent first; the other participant's
    // name by the primary key (oneself, in a conversation with oneself).
    const myList = `FROM conversation_participants p JOIN conversations c ON c.ref = p.conversation
      WHERE p.name_key = ? AND p.listed_ts IS NOT NULL ORDER BY p.listed_ts DESC, p.conversation DESC LIMIT ?`;
    this.listed = db.prepare(`SELECT c.id, c.seq, c.last_ts AS lastTs, p.read_seq AS readSeq,
      COALESCE((SELECT o.username FROM conversation_participants o WHERE o.conversation = p.conversation AND o.name_key <> p.name_key), p.username) AS peer
      ${myList}`);
    this.listedIds = db.prepare(`SELECT c.id ${myList}`);
    this.earlierId = db.prepare("SELECT seq, ts FROM conversation_message_ids WHERE conversation = ? AND field = ? AND expires_at > ?");
    this.insertMessage = db.prepare("INSERT INTO conversation_messages (conversation, seq, sender, ts, msg) VALUES (?, ?, ?, ?, ?)");
    this.advance = db.prepare("UPDATE conversations SET seq = @seq, last_ts = @ts, kept_from = @keptFrom WHERE ref = @ref");
    // The messages below the length cap, oldest first, by the primary key.
    this.trimBelow = db.prepare(
      "DELETE FROM conversation_messages WHERE rowid IN (SELECT rowid FROM conversation_messages WHERE conversation = ? AND seq < ? ORDER BY seq LIMIT ?)",
    );
    this.head = db.prepare("SELECT seq, ts FROM conversation_messages WHERE conversation = ? ORDER BY seq LIMIT ?");
    this.deleteBefore = db.prepare("DELETE FROM conversation_messages WHERE conversation = ? AND seq < ?");
    this.setHeadTs = db.prepare("UPDATE conversations SET head_ts = ? WHERE ref = ?");
    this.listForBoth = db.prepare("UPDATE conversation_participants SET listed_ts = ? WHERE conversation = ?");
    this.setRead = db.prepare("UPDATE conversation_participants SET read_seq = ? WHERE conversation = ? AND name_key = ?");
    // By conversation_message_ids_by_expiry: the oldest expired ids of any conversation.
    this.dropExpiredIds = db.prepare(`DELETE FROM conversation_message_ids WHERE (conversation, field) IN
      (SELECT conversation, field FROM conversation_message_ids WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)`);
    this.claimId = db.prepare(`INSERT INTO conversation_message_ids (conversation, field, seq, ts, expires_at) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (conversation, field) DO UPDATE SET seq = excluded.seq, ts = excluded.ts, expires_at = excluded.expires_at`);
    // Pages by the primary key, skipping what the caps left behind (below kept_from, older than notBefore).
    const columns = 'SELECT seq, sender AS "from", ts, msg FROM conversation_messages';
    this.after = db.prepare(`${columns} WHERE conversation = @ref AND seq > @from AND ts >= @notBefore ORDER BY seq LIMIT @limit`);
    this.before = db.prepare(`${columns} WHERE conversation = @ref AND seq < @below AND seq > @from AND ts >= @notBefore ORDER BY seq DESC LIMIT @limit`);
    // Participants, keys and message ids go with the row (ON DELETE CASCADE: a few rows each);
    // the history, up to HISTORY_MAX rows, is purged in chunks (purge).
    this.removeConversation = db.prepare("DELETE FROM conversations WHERE ref = ?");
    this.queuePurge = db.prepare("INSERT OR IGNORE INTO conversation_purges (conversation) VALUES (?)");
    this.pendingPurges = db.prepare("SELECT conversation FROM conversation_purges");
    this.purgeChunk = db.prepare(
      "DELETE FROM conversation_messages WHERE rowid IN (SELECT rowid FROM conversation_messages WHERE conversation = ? LIMIT ?)",
    );
    this.purgeDone = db.prepare("DELETE FROM conversation_purges WHERE conversation = ?");

    this.openTx = writeTransaction(db, (id: string, me: string, peer: string, key: string) => {
      let row = this.conversation.get(id);
      if (!row) {
        const ref = Number(this.insertConversation.run(id).lastInsertRowid);
        this.insertKey.run(ref, 1, key);
        this.insertParticipant.run(ref, nameKey(me), me);
        this.insertParticipant.run(ref, nameKey(peer), peer);
        row = this.conversation.get(id)!;
      }
      this.listFor.run(row.lastTs, row.ref, nameKey(me));
      const current = this.keyOf.get(row.ref, row.keyId)!;
      return { conversation: this.summarize(id, row, me), key: { id: row.keyId, key: current.key } };
    });
    this.acceptTx = writeTransaction(db, (id: string, whisper: IncomingWhisper, cap: HistoryCap) => this.acceptIn(id, whisper, cap));
    this.markReadTx = writeTransaction(db, (id: string, me: string, seq: number) => {
      const row = this.conversation.get(id);
      if (!row) return null;
      const mine = this.participants.all(row.ref).find((participant) => participant.nameKey === nameKey(me));
      const read = Math.max(mine?.readSeq ?? 0, Math.min(seq, row.seq));
      this.setRead.run(read, row.ref, nameKey(me));
      return this.summarize(id, row, me);
    });
    this.deleteTx = writeTransaction(db, (id: string) => {
      const row = this.conversation.get(id);
      if (!row) return;
      this.removeConversation.run(row.ref);
      this.queuePurge.run(row.ref);
    });
    this.purgeTx = writeTransaction(db, (ref: number) => {
      const done = this.purgeChunk.run(ref, PURGE_CHUNK).changes < PURGE_CHUNK;
      if (done) this.purgeDone.run(ref);
      return done;
    });
    // What a previous run left to purge (it stopped, or died, mid-purge): resumed at once. A failure
    // leaves it queued for the next delete, which purges every queued conversation.
    setImmediate(() => void this.purgePending().catch(() => undefined));
  }

  async open(me: string, peer: string, key: string): Promise<{ conversation: ConversationSummary; key: RoomKey }> {
    return this.openTx(conversationId(me, peer), me, peer, key);
  }

  async list(me: string, limit: number): Promise<ConversationSummary[]> {
    return this.listed.all(nameKey(me), Math.max(0, limit)).map((row) => ({
      id: row.id,
      with: row.peer,
      unread: row.seq - row.readSeq,
      lastSeq: row.seq,
      lastTs: row.lastTs,
    }));
  }

  async partners(me: string, limit: number): Promise<string[]> {
    return this.listedIds.all(nameKey(me), Math.max(0, limit)).flatMap(({ id }) => partnerIn(id, me) ?? []);
  }

  async accept(whisper: IncomingWhisper, cap: HistoryCap): Promise<AcceptResult | null> {
    return this.acceptTx(conversationId(whisper.from, whisper.to), whisper, cap);
  }

  async history(me: string, peer: string, query: HistoryQuery): Promise<Whisper[]> {
    const id = conversationId(me, peer);
    const row = this.conversation.get(id);
    if (!row) return [];
    const limit = Math.max(0, query.limit);
    const notBefore = query.notBefore ?? 0;
    const entries =
      query.afterSeq !== undefined
        ? this.after.all({ ref: row.ref, from: Math.max(query.afterSeq, row.keptFrom - 1), notBefore, limit })
        : this.before.all({ ref: row.ref, below: query.beforeSeq ?? Number.MAX_SAFE_INTEGER, from: row.keptFrom - 1, notBefore, limit }).reverse();
    if (entries.length === 0) return [];
    const names = this.participants.all(row.ref);
    return entries.map((entry) => ({ conversationId: id, ...entry, to: otherName(names, entry.from) }));
  }

  async markRead(me: string, peer: string, seq: number): Promise<ConversationSummary | null> {
    return this.markReadTx(conversationId(me, peer), me, seq);
  }

  async keysById(id: string, ids: number[]): Promise<RoomKey[]> {
    const row = this.conversation.get(id);
    if (!row) return [];
    return [...new Set(ids)].flatMap((keyId) => {
      const found = this.keyOf.get(row.ref, keyId);
      return found ? [{ id: keyId, key: found.key }] : [];
    });
  }

  /**
   * The conversation goes at once (its row, participants, lists, keys: one transaction); its
   * history then in chunks, letting the event loop run in between. A purge cut short (a crash) is
   * resumed at the next start (or delete): the ref is never reused, so what is left is never read.
   */
  async delete(id: string): Promise<void> {
    this.deleteTx(id);
    await this.purgePending();
  }

  /** Purges the queued conversations' history a chunk per turn of the event loop, until the file closes. */
  private async purgePending(): Promise<void> {
    for (const { conversation } of this.pendingPurges.all()) {
      while (this.db.open && !this.purgeTx(conversation)) await nextTurn();
    }
  }

  /** The accept, inside its transaction: every read and write of one whisper, or none. */
  private acceptIn(id: string, whisper: IncomingWhisper, cap: HistoryCap): AcceptResult | null {
    const row = this.conversation.get(id);
    if (!row) return null;
    const { from, ts, msg, clientId } = whisper;
    // Scoped by sender, as Redis's idField: another participant reusing an id is not a repeat.
    const field = clientId ? `${nameKey(from)}:${clientId}` : null;
    if (field) {
      const earlier = this.earlierId.get(row.ref, field, ts);
      if (earlier) return { seq: earlier.seq, ts: earlier.ts, duplicate: true, announced: false };
    }
    if (whisper.keyId !== row.keyId) return { staleKey: row.keyId };

    const seq = row.seq + 1;
    if (cap.maxMessages > 0) this.insertMessage.run(row.ref, seq, from, ts, msg);
    const keptFrom = Math.max(row.keptFrom, seq - Math.max(0, cap.maxMessages) + 1);
    this.advance.run({ ref: row.ref, seq, ts, keptFrom });
    this.trimBelow.run(row.ref, keptFrom, TRIM_CHUNK);
    const cutoff = oldestKept(cap, ts);
    if (cutoff > 0 && row.headTs < cutoff) this.trimByAge(row.ref, cutoff, ts);

    this.listForBoth.run(ts, row.ref);
    this.setRead.run(seq, row.ref, nameKey(from));
    if (field) {
      this.dropExpiredIds.run(ts, EXPIRED_IDS_PER_CLAIM);
      this.claimId.run(row.ref, field, seq, ts, ts + this.messageIdWindowSec * 1000);
    }
    return { seq, ts, duplicate: false, announced: false };
  }

  /**
   * Drops the head messages older than `cutoff` up to the first one young enough (as Redis's
   * trimByAge: ts grows with seq, so the expired ones are at the head), a bounded number per call,
   * and records a lower bound of the new head's ts — never later than `now`, so that a head
   * written with a clock running ahead does not hold off the next trim.
   */
  private trimByAge(ref: number, cutoff: number, now: number): void {
    const rows = this.head.all(ref, AGE_TRIM_CHUNK);
    const young = rows.find((entry) => entry.ts >= cutoff);
    if (young) this.deleteBefore.run(ref, young.seq);
    else if (rows.length > 0) this.deleteBefore.run(ref, rows.at(-1)!.seq + 1);
    const [first] = young ? [young] : this.head.all(ref, 1);
    this.setHeadTs.run(first ? Math.min(first.ts, now) : now, ref);
  }

  private summarize(id: string, row: ConversationRow, me: string): ConversationSummary {
    const names = this.participants.all(row.ref);
    const mine = names.find((participant) => participant.nameKey === nameKey(me));
    return { id, with: otherName(names, me), unread: row.seq - (mine?.readSeq ?? 0), lastSeq: row.seq, lastTs: row.lastTs };
  }
}

/** The participant who is not `name` (display form); `name` itself in a conversation with oneself. */
function otherName(participants: ParticipantRow[], name: string): string {
  const mine = nameKey(name);
  return participants.find((participant) => participant.nameKey !== mine)?.username ?? name;
}
