import type { RoomKey } from "@sala/protocol";
import {
  nameKey,
  oldestKept,
  type AcceptedMessage,
  type HistoryCap,
  type HistoryQuery,
  type MessageChangeResult,
  type StoredMessage as LoggedMessage,
} from "../types.js";

/**
 * A numbered, capped message history in memory (a room's or a conversation's): the same rules as
 * the Redis stream of stores/redis/history-stream.ts — capped by length and by age (the oldest
 * entries go first), expired entries never returned, a repeated sender id answered once.
 */
export class MessageLog {
  seq = 0;
  entries: LoggedMessage[] = [];
  private readonly accepted = new Map<string, { seq: number; ts: number }>();

  /** The first answer to a message id this sender already used, if any. */
  repeat(from: string, clientId: string | undefined): AcceptedMessage | null {
    const earlier = clientId ? this.accepted.get(`${nameKey(from)}:${clientId}`) : undefined;
    return earlier ? { ...earlier, duplicate: true, announced: false } : null;
  }

  append(message: Omit<LoggedMessage, "seq">, cap: HistoryCap, clientId?: string): AcceptedMessage {
    this.seq += 1;
    const { from, ts, msg } = message;
    if (cap.maxMessages > 0) this.entries.push({ seq: this.seq, from, ts, msg });
    this.trim(cap.maxMessages, oldestKept(cap, ts));
    if (clientId) {
      this.accepted.set(`${nameKey(from)}:${clientId}`, { seq: this.seq, ts });
      if (this.accepted.size > 10_000) this.accepted.delete(this.accepted.keys().next().value!);
    }
    return { seq: this.seq, ts, duplicate: false, announced: false };
  }

  /** Drops entries beyond the latest `maxMessages`, and those older than `notBefore` (0: none). */
  trim(maxMessages: number, notBefore = 0): void {
    if (this.entries.length > maxMessages) this.entries.splice(0, this.entries.length - maxMessages);
    if (notBefore > 0) {
      const kept = this.entries.findIndex((entry) => entry.ts >= notBefore);
      this.entries.splice(0, kept === -1 ? this.entries.length : kept);
    }
  }

  read(query: HistoryQuery): LoggedMessage[] {
    if (query.notBefore) this.trim(this.entries.length, query.notBefore);
    const live = query.notBefore ? this.entries.filter((entry) => entry.ts >= query.notBefore!) : this.entries;
    if (query.afterSeq !== undefined) return live.filter((m) => m.seq > query.afterSeq!).slice(0, query.limit);
    const older = query.beforeSeq !== undefined ? live.filter((m) => m.seq < query.beforeSeq!) : live;
    return older.slice(Math.max(0, older.length - query.limit));
  }

  /**
   * The author's edit (`edit`: the new envelope, or the current key id when the edit's is stale) or
   * delete of entry `seq`, as the Redis edits (stores/redis/message-edits.ts) do it: only a stored,
   * live (ts from `notBefore` on), undeleted entry that `by` sent. The entry changes in place, so
   * it is trimmed and cleared with the others.
   */
  amend(seq: number, by: string, at: number, notBefore: number, edit?: { msg: string } | { staleKey: number }): MessageChangeResult {
    const entry = this.entries.find((candidate) => candidate.seq === seq);
    if (!entry || entry.deleted || entry.ts < notBefore) return { refused: "not_found" };
    if (nameKey(entry.from) !== nameKey(by)) return { refused: "forbidden" };
    if (edit && "staleKey" in edit) return { staleKey: edit.staleKey };
    // Later than the previous edit even if the clock went back: receivers keep the latest.
    const editedAt = Math.max(at, (entry.editedAt ?? 0) + 1);
    if (edit) Object.assign(entry, { msg: edit.msg, editedAt });
    else {
      Object.assign(entry, { msg: "", deleted: true });
      delete entry.editedAt;
    }
    return { changed: true, editedAt };
  }

  clear(): void {
    this.entries = [];
  }
}

/** The keys with these ids from a map of key id → base64 key (unknown ids are left out). */
export function pickKeys(keys: Map<number, string> | undefined, ids: number[]): RoomKey[] {
  return [...new Set(ids)].flatMap((id) => {
    const key = keys?.get(id);
    return key ? [{ id, key }] : [];
  });
}
