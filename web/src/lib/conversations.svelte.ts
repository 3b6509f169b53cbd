/**
 * One-to-one conversations built from whispers (the seed's "future improvement"): one thread per
 * correspondent, with unread counts for threads that are not open.
 */
import type { Whisper } from "@sala/protocol";

export interface ConversationLine {
  id: string;
  from: string;
  ts: number;
  text: string;
  incoming: boolean;
}

export interface Conversation {
  user: string;
  lines: ConversationLine[];
  unread: number;
  lastTs: number;
}

let nextId = 0;

export class Conversations {
  threads = $state<Record<string, Conversation>>({});
  open = $state<string | null>(null);

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

  openWith(user: string): void {
    const thread = this.thread(user);
    thread.unread = 0;
    this.open = thread.user;
  }

  close(): void {
    this.open = null;
  }

  /** Records a whisper sent or received by `me`. */
  add(whisper: Whisper, me: string): void {
    const incoming = whisper.from.toLowerCase() !== me.toLowerCase();
    const thread = this.thread(incoming ? whisper.from : whisper.to);
    thread.lines.push({ id: `w${++nextId}`, from: whisper.from, ts: whisper.ts, text: whisper.msg, incoming });
    thread.lastTs = whisper.ts;
    if (incoming && this.open?.toLowerCase() !== thread.user.toLowerCase()) thread.unread += 1;
  }

  private thread(user: string): Conversation {
    const key = threadKey(user);
    this.threads[key] ??= { user, lines: [], unread: 0, lastTs: 0 };
    return this.threads[key]!;
  }
}

/** Case-folded and prefixed, so a user named "constructor" is not an inherited property. */
function threadKey(user: string): string {
  return `@${user.toLowerCase()}`;
}
