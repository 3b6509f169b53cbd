/**
 * The user's 1-to-1 conversations as the client holds them: one thread per correspondent, with
 * its decrypted lines (in seq order, once each), its keys, and its unread count. The server keeps
 * them (docs/PROTOCOL.md section 7); this model is filled from its answers and events:
 * `conversations` (the list after a reload), `open_conversation` (keys and latest whispers),
 * `conversation_history` pages, `private_message` and `conversation_read`.
 *
 * Unread, as on the server: the thread's last seq minus the last seq this user read — reading on
 * any device, or sending, moves it (so every device shows the same count).
 */
import { conversationId, nameKey, sameName, type ConversationSummary, type OpenedConversation, type RoomKey, type Whisper } from "@sala/protocol";
import { decryptText, encryptText } from "@sala/protocol/envelope";

export interface ConversationLine {
  id: string;
  seq: number;
  from: string;
  ts: number;
  /** null: could not decrypt (yet: see awaitingKey). */
  text: string | null;
  incoming: boolean;
  /** The envelope, kept while its key is unknown, to decrypt once the keys arrive. */
  awaitingKey?: string;
}

export interface Conversation {
  user: string;
  /** `dm:<a>:<b>`, once known. */
  id: string | null;
  lines: ConversationLine[];
  unread: number;
  lastSeq: number;
  lastTs: number;
  /** The last seq this user read (or sent), on any device. */
  readSeq: number;
  /** Paging back found nothing older: the stored history is all here. */
  allLoaded: boolean;
}

interface ThreadKeys {
  current: RoomKey;
  all: Map<number, string>;
}

let nextId = 0;

export class Conversations {
  threads = $state<Record<string, Conversation>>({});
  open = $state<string | null>(null);
  /** Keys per thread (by threadKey); never reactive state, never rendered. */
  private readonly keys = new Map<string, ThreadKeys>();

  /** Conversations, most recent first. */
  list(): Conversation[] {
    return Object.values(this.threads).sort((a, b) => b.lastTs - a.lastTs);
  }

  totalUnread(): number {
    return Object.values(this.threads).reduce((sum, thread) => sum + thread.unread, 0);
  }

  current(): Conversation | null {
    return this.open ? (this.threads[threadKey(this.open)] ?? null) : null;
  }

  /** Shows the thread with `user` (an empty one for someone not talked to yet). */
  select(user: string): Conversation {
    const thread = this.thread(user);
    this.open = thread.user;
    return thread;
  }

  close(): void {
    this.open = null;
  }

  /** Forgets a thread that never got off the ground (the server refused to open it). */
  discard(user: string): void {
    const key = threadKey(user);
    const thread = this.threads[key];
    if (!thread || thread.id !== null || thread.lines.length > 0) return;
    if (this.isOpen(user)) this.open = null;
    delete this.threads[key];
  }

  isOpen(user: string): boolean {
    return this.open !== null && sameName(this.open, user);
  }

  hasKey(user: string): boolean {
    return this.keys.has(threadKey(user));
  }

  /** The `conversations` answer: every thread with its counts (lines come when one is opened). */
  load(summaries: ConversationSummary[]): void {
    for (const summary of summaries) {
      const thread = this.thread(summary.with);
      // The server's spelling of the name wins over what was typed.
      if (this.isOpen(summary.with)) this.open = summary.with;
      thread.user = summary.with;
      thread.id = summary.id;
      thread.lastSeq = Math.max(thread.lastSeq, summary.lastSeq);
      thread.lastTs = Math.max(thread.lastTs, summary.lastTs);
      thread.readSeq = Math.max(thread.readSeq, summary.lastSeq - summary.unread);
      this.recount(thread);
    }
  }

  /** The `open_conversation` answer: the keys, the counts and the latest whispers. */
  opened(answer: OpenedConversation, me: string): void {
    this.load([answer.conversation]);
    this.addPage(answer.conversation.with, answer.history, [...answer.keys, answer.key], me, answer.key);
  }

  /** Whispers fetched from the conversation's history, with the keys they need. */
  addPage(user: string, messages: Whisper[], keys: RoomKey[], me: string, current?: RoomKey): void {
    const slot = threadKey(user);
    const held = this.keys.get(slot);
    const newest = current ?? keys.reduce<RoomKey | undefined>((best, key) => (!best || key.id > best.id ? key : best), held?.current);
    if (newest) {
      const all = held?.all ?? new Map<number, string>();
      for (const key of keys) all.set(key.id, key.key);
      this.keys.set(slot, { current: !held || newest.id >= held.current.id ? newest : held.current, all });
    }
    const thread = this.thread(user);
    for (const line of thread.lines) {
      if (line.awaitingKey === undefined) continue;
      const result = this.decrypt(user, me, line.awaitingKey);
      line.text = result;
      if (result !== null) line.awaitingKey = undefined;
    }
    for (const message of messages) this.receive(message, me);
  }

  /**
   * A whisper sent or received by `me` (an event, an ack, or history). Returns its line when it
   * is new, null for one already held.
   */
  receive(whisper: Whisper, me: string): ConversationLine | null {
    const incoming = !sameName(whisper.from, me);
    const peer = incoming ? whisper.from : whisper.to;
    const thread = this.thread(peer);
    thread.id ??= conversationId(me, peer);
    if (thread.lines.some((line) => line.seq === whisper.seq)) return null;
    const text = this.decrypt(peer, me, whisper.msg);
    const line: ConversationLine = {
      id: `w${++nextId}`,
      seq: whisper.seq,
      from: whisper.from,
      ts: whisper.ts,
      text,
      incoming,
      ...(text === null && !this.hasKey(peer) ? { awaitingKey: whisper.msg } : {}),
    };
    const later = thread.lines.findIndex((other) => other.seq > line.seq);
    if (later === -1) thread.lines.push(line);
    else thread.lines.splice(later, 0, line);
    if (whisper.seq > thread.lastSeq) {
      thread.lastSeq = whisper.seq;
      thread.lastTs = whisper.ts;
    }
    // Sending reads the thread; so does receiving into the thread on screen.
    if (!incoming || this.isOpen(peer)) thread.readSeq = Math.max(thread.readSeq, whisper.seq);
    this.recount(thread);
    return thread.lines.find((held) => held.seq === whisper.seq) ?? null;
  }

  /** `user`'s thread was read up to `seq` (here, or on another device). */
  read(user: string, seq: number): void {
    const thread = this.thread(user);
    thread.readSeq = Math.max(thread.readSeq, seq);
    this.recount(thread);
  }

  /** An envelope for `user` under the thread's current key; null until the thread is opened. */
  encrypt(user: string, text: string): string | null {
    const thread = this.threads[threadKey(user)];
    const keys = this.keys.get(threadKey(user));
    return thread?.id && keys ? encryptText(text, thread.id, keys.current) : null;
  }

  /** The line with `seq` in `user`'s thread, if held. */
  line(user: string, seq: number): ConversationLine | null {
    return this.threads[threadKey(user)]?.lines.find((line) => line.seq === seq) ?? null;
  }

  /** The lowest seq held in `user`'s thread (for paging back); 0: none. */
  firstSeq(user: string): number {
    return this.threads[threadKey(user)]?.lines[0]?.seq ?? 0;
  }

  /**
   * The MAC is checked against the id of our conversation with `user`, computed here, never the
   * one an event claims: a whisper of another conversation cannot pass for one of this thread.
   */
  private decrypt(user: string, me: string, envelope: string): string | null {
    const keys = this.keys.get(threadKey(user));
    const result = decryptText(envelope, conversationId(me, user), (id) => keys?.all.get(id));
    return result.ok ? result.text : null;
  }

  private recount(thread: Conversation): void {
    thread.unread = Math.max(0, thread.lastSeq - thread.readSeq);
  }

  private thread(user: string): Conversation {
    const key = threadKey(user);
    if (!Object.hasOwn(this.threads, key)) {
      this.threads[key] = { user, id: null, lines: [], unread: 0, lastSeq: 0, lastTs: 0, readSeq: 0, allLoaded: false };
    }
    return this.threads[key]!;
  }
}

/** Case-folded and prefixed, so a user named "constructor" is not an inherited property. */
function threadKey(user: string): string {
  return `@${nameKey(user)}`;
}
