/**
 * One joined room as the client holds it: its keys, its members, its feed of decrypted messages
 * and notices, and who is typing. Messages are kept in sequence order (two nodes may deliver
 * them slightly out of order) and deduplicated by sequence number (the sender gets both its ack
 * and the room's echo).
 */
import { nameKey, sameName, type LeaveReason, type RoomKey, type RoomMessage, type RoomSummary } from "@sala/protocol";
import { decryptText, encryptText } from "@sala/protocol/envelope";
import type { MessageKey } from "../i18n/i18n.svelte.js";
import { Outbox } from "./outbox.svelte.js";
import { mentions } from "./attention.js";

export type FeedItem =
  | {
      kind: "message";
      id: string;
      seq: number;
      from: string;
      ts: number;
      /** null: could not decrypt. */
      text: string | null;
      mine: boolean;
      rttMs?: number;
      /** Server time of the author's latest edit; absent: never edited. */
      editedAt?: number;
      /** The author deleted it: shown as deleted, its text gone. */
      deleted?: boolean;
      /** Kept while the key it names is unknown, to decrypt once that key arrives. */
      awaitingKey?: string;
    }
  | { kind: "notice"; id: string; ts: number; key: MessageKey; params: Record<string, string> }
  | { kind: "whisper"; id: string; key: string; ts: number; from: string; to: string; text: string | null; incoming: boolean };

const TYPING_SHOWN_MS = 4000;
let nextId = 0;
const itemId = () => `i${++nextId}`;

export class RoomSession {
  summary = $state<RoomSummary>() as RoomSummary;
  /** Every member, online or not (membership lasts until they leave). */
  members = $state<string[]>([]);
  /** Case-folded names of the members online now. */
  online = $state<Record<string, true>>({});
  feed = $state<FeedItem[]>([]);
  /** case-folded username → who is typing and until when (ms). */
  typing = $state<Record<string, { name: string; until: number }>>({});
  /** Users the owner barred (kicked, not yet let back in): filled for the owner only. */
  banned = $state<string[]>([]);
  /** Messages of others after `readSeq`, not seen yet (the room was not shown, or the tab hidden). */
  unread = $state(0);
  /** Of the unread, those that mention the user (`@name`). */
  mentioned = $state(0);
  /**
   * The last seq the user has seen here: raised by markRead() as the room is looked at. Set before
   * the history arrives (readMarks: remembered on this device) so what came since counts unread.
   */
  readSeq = 0;
  /**
   * Where the "new messages" divider goes: before the first message of others after this seq.
   * Set when the room is shown with unread messages (null: no divider).
   */
  newAfter = $state<number | null>(null);
  /** Our messages on their way: shown as pending bubbles below the feed until numbered. */
  readonly outbox: Outbox;
  private readonly keys = new Map<number, string>();
  private currentKey: RoomKey;
  private readonly seen = new Set<number>();
  /** Highest seq in `seen`, kept as messages arrive (asked on every incoming message). */
  private maxSeq = 0;
  /**
   * The seqs `unread` and `mentioned` count: a message deleted before it was read stops counting,
   * by what was counted when it came (an edit since may have added or dropped its mention).
   */
  private readonly unreadSeqs = new Set<number>();
  private readonly mentionSeqs = new Set<number>();

  constructor(
    summary: RoomSummary,
    members: string[],
    key: RoomKey,
    history: RoomMessage[] = [],
    keys: RoomKey[] = [],
    private readonly me = "",
    readSeq = 0,
  ) {
    this.summary = summary;
    this.readSeq = readSeq;
    this.setMembers(members);
    this.outbox = new Outbox(
      (text) => this.encrypt(text),
      ({ message, seq, ts, rttMs }) => this.acknowledged(seq, ts, message.text, this.me, rttMs),
    );
    this.currentKey = key;
    this.keys.set(key.id, key.key);
    for (const older of keys) this.keys.set(older.id, older.key);
    for (const message of history) this.receive(message, me);
  }

  /** The highest sequence number this client holds (0: none). */
  lastSeq(): number {
    return this.maxSeq;
  }

  /** Messages fetched from the room's history (a backfill), with the keys they need. */
  receiveHistory(messages: RoomMessage[], keys: RoomKey[], me: string): void {
    for (const key of keys) if (!this.keys.has(key.id)) this.keys.set(key.id, key.key);
    for (const message of messages) this.receive(message, me);
  }

  get id(): string {
    return this.summary.id;
  }

  encrypt(text: string): string {
    return encryptText(text, this.summary.id, this.currentKey);
  }

  addKey(key: RoomKey): void {
    this.keys.set(key.id, key.key);
    if (key.id > this.currentKey.id) {
      this.currentKey = key;
      this.notice("room.keyRotated", {});
    }
    // A message can overtake the key it was encrypted with (e.g. around a reconnect).
    for (const item of this.feed) {
      if (item.kind !== "message" || item.awaitingKey === undefined) continue;
      const result = decryptText(item.awaitingKey, this.summary.id, (id) => this.keys.get(id));
      if (result.ok) item.text = result.text;
      if (result.ok || result.reason !== "unknown-key") item.awaitingKey = undefined;
    }
  }

  /** The owner cleared the stored history: drop the messages shown (notices stay). */
  clearMessages(by: string): void {
    this.feed = this.feed.filter((item) => item.kind !== "message");
    this.forgetUnread();
    this.notice("room.historyCleared", { user: by });
  }

  setMembers(members: string[]): void {
    this.members = [...members].sort(byName);
  }

  /** Who of the members is online, as a join answered (absent from an older server: everyone). */
  setOnline(online: string[] | undefined): void {
    this.online = Object.fromEntries((online ?? this.members).map((name) => [typingKey(name), true as const]));
  }

  isOnline(username: string): boolean {
    return Object.hasOwn(this.online, typingKey(username));
  }

  /** A member came online or went offline (they stay a member either way). */
  memberPresence(username: string, online: boolean): void {
    const key = typingKey(username);
    if (online) this.online = { ...this.online, [key]: true };
    else {
      const { [key]: _gone, ...rest } = this.online;
      this.online = rest;
      this.stopTyping(username);
    }
  }

  /** The barred users as a join answered them (absent from a server that bars no one: none). */
  setBanned(banned: string[] | undefined): void {
    this.banned = [...(banned ?? [])].sort(byName);
  }

  /** The owner barred `username` (a kick) or let them back in (unban), on this tab or another. */
  banChanged(username: string, banned: boolean): void {
    const others = this.banned.filter((name) => !sameName(name, username));
    this.banned = banned ? [...others, username].sort(byName) : others;
  }

  /**
   * A message from the room (anyone's, including our own echo), maybe edited or deleted since.
   * Answers whether it was new here and mentions the user (`@name`): worth a notification.
   */
  receive(message: RoomMessage, me: string): boolean {
    if (this.seen.has(message.seq)) {
      // Read again (a backfill, a rejoin): it may have been edited or deleted meanwhile.
      if (message.deleted) this.deleted(message.seq);
      else if (message.editedAt !== undefined) this.edited(message.seq, message.msg, message.editedAt);
      return false;
    }
    const result = decryptText(message.msg, this.summary.id, (id) => this.keys.get(id));
    const mine = sameName(message.from, me);
    this.insert({
      kind: "message",
      id: itemId(),
      seq: message.seq,
      from: message.from,
      ts: message.ts,
      text: result.ok ? result.text : null,
      mine,
      ...(!result.ok && result.reason === "unknown-key" ? { awaitingKey: message.msg } : {}),
      ...(message.editedAt !== undefined ? { editedAt: message.editedAt } : {}),
      ...(message.deleted ? { deleted: true, text: "" } : {}),
    });
    const mentioning = !mine && !message.deleted && mentions(result.ok ? result.text : null, me);
    if (!mine && !message.deleted && message.seq > this.readSeq) {
      this.unreadSeqs.add(message.seq);
      this.unread += 1;
      if (mentioning) {
        this.mentionSeqs.add(message.seq);
        this.mentioned += 1;
      }
    }
    this.stopTyping(message.from);
    // Ours, live or from history: if it is a pending message whose answer is lost or still on
    // its way, it was posted and is not sent again.
    if (mine) this.outbox.arrived(message.msg, message.seq, message.ts);
    return mentioning;
  }

  /** The author edited message `seq`: its new text, unless a later edit is already shown. */
  edited(seq: number, msg: string, editedAt: number): void {
    const item = this.messageAt(seq);
    if (!item || item.deleted || (item.editedAt ?? 0) >= editedAt) return;
    const result = decryptText(msg, this.summary.id, (id) => this.keys.get(id));
    item.text = result.ok ? result.text : null;
    item.awaitingKey = !result.ok && result.reason === "unknown-key" ? msg : undefined;
    item.editedAt = editedAt;
  }

  /**
   * The author deleted message `seq`: it stays in its place, as deleted. Unread, it no longer
   * counts (nor as a mention): nothing is left to read.
   */
  deleted(seq: number): void {
    const item = this.messageAt(seq);
    if (!item) return;
    if (this.unreadSeqs.delete(seq)) this.unread = Math.max(0, this.unread - 1);
    if (this.mentionSeqs.delete(seq)) this.mentioned = Math.max(0, this.mentioned - 1);
    item.deleted = true;
    item.text = "";
    item.awaitingKey = undefined;
  }

  private messageAt(seq: number): Extract<FeedItem, { kind: "message" }> | undefined {
    const item = this.feed.find((other) => other.kind === "message" && other.seq === seq);
    return item?.kind === "message" ? item : undefined;
  }

  /** The room is being shown: what was unread gets the divider before it (until shown again). */
  shown(): void {
    this.newAfter = this.unread > 0 ? this.readSeq : null;
  }

  /** The seq of the first message of others after `newAfter`: the divider goes before it. */
  firstNewSeq(): number | null {
    if (this.newAfter === null) return null;
    const first = this.feed.find((item) => item.kind === "message" && !item.mine && item.seq > this.newAfter!);
    return first?.kind === "message" ? first.seq : null;
  }

  /** The user has seen everything here (the room is shown in a visible tab). Returns the seq read up to. */
  markRead(): number {
    if (this.maxSeq > this.readSeq) this.readSeq = this.maxSeq;
    this.forgetUnread();
    return this.readSeq;
  }

  private forgetUnread(): void {
    this.unreadSeqs.clear();
    this.mentionSeqs.clear();
    this.unread = 0;
    this.mentioned = 0;
  }

  /** Our own message, acknowledged by the server after `rttMs` (absent: its copy came first). */
  acknowledged(seq: number, ts: number, text: string, me: string, rttMs?: number): void {
    const existing = this.feed.find((item) => item.kind === "message" && item.seq === seq);
    if (existing && existing.kind === "message") {
      if (rttMs !== undefined) existing.rttMs = rttMs;
      return;
    }
    this.insert({ kind: "message", id: itemId(), seq, from: me, ts, text, mine: true, ...(rttMs !== undefined ? { rttMs } : {}) });
  }

  /**
   * When messages numbered before `seq` are missing here, between messages held: the highest seq
   * held below the latest missing one (fetch what follows it), looking back at most 1000 numbers.
   * null: nothing missing after the earliest message held.
   */
  gapBefore(seq: number): number | null {
    let missing = false;
    for (let at = seq - 1; at > 0 && seq - at <= 1000; at--) {
      if (!this.seen.has(at)) missing = true;
      else if (missing) return at;
    }
    return null;
  }

  notice(key: MessageKey, params: Record<string, string>): void {
    this.feed.push({ kind: "notice", id: itemId(), ts: Date.now(), key, params });
  }

  /**
   * A whisper shown in the room's feed too (text null: could not decrypt), once per `key` (its
   * conversation and seq: the ack and the echo of our own are the same whisper).
   */
  whisper(key: string, from: string, to: string, ts: number, text: string | null, incoming: boolean): void {
    if (this.feed.some((item) => item.kind === "whisper" && item.key === key)) return;
    this.feed.push({ kind: "whisper", id: itemId(), key, ts, from, to, text, incoming });
  }

  memberJoined(username: string): void {
    if (!this.members.some((member) => sameName(member, username))) {
      this.members = [...this.members, username].sort(byName);
    }
    this.memberPresence(username, true);
    this.notice("room.joined", { user: username });
  }

  memberLeft(username: string, reason: LeaveReason): void {
    this.members = this.members.filter((member) => !sameName(member, username));
    this.memberPresence(username, false);
    this.notice(reason === "kicked" ? "room.kicked" : "room.left", { user: username });
  }

  startTyping(username: string, now = Date.now()): void {
    this.typing = { ...this.typing, [typingKey(username)]: { name: username, until: now + TYPING_SHOWN_MS } };
  }

  stopTyping(username: string): void {
    const key = typingKey(username);
    if (!Object.hasOwn(this.typing, key)) return;
    const { [key]: _gone, ...rest } = this.typing;
    this.typing = rest;
  }

  /** Names typing right now (expired indicators are dropped). */
  typers(now = Date.now()): string[] {
    return Object.values(this.typing)
      .filter((entry) => entry.until > now)
      .map((entry) => entry.name);
  }

  /** Messages go before the first later message; notices and whispers stay where they arrived. */
  private insert(item: Extract<FeedItem, { kind: "message" }>): void {
    this.seen.add(item.seq);
    if (item.seq > this.maxSeq) this.maxSeq = item.seq;
    const later = this.feed.findIndex((other) => other.kind === "message" && other.seq > item.seq);
    if (later === -1) this.feed.push(item);
    else this.feed.splice(later, 0, item);
  }
}

/** Keys of `typing`: case-folded, and prefixed so no name can be an inherited property. */
function typingKey(username: string): string {
  return `@${nameKey(username)}`;
}

function byName(a: string, b: string): number {
  return a.localeCompare(b, undefined, { sensitivity: "base" });
}
