/**
 * A room's outgoing messages until the server has numbered them. A message typed while the socket
 * is down (or whose send failed in a way worth retrying) waits here, shown as a pending bubble,
 * and is sent once the room is usable again: the socket connected and the room rejoined. Messages
 * go one at a time, in the order they were typed, each with the id it got when typed, so a repeat
 * of one whose answer was lost is answered by the server with its first answer and posted once.
 * Each ends delivered (the bubble gives way to the message at its seq) or failed (the user may
 * retry or discard it).
 */
import { ErrorCode, type Ack, type ErrorBody } from "@sala/protocol";

export type TextAnswer = Ack<{ seq: number; ts: number }>;
/** Sends one `text` to the room (never throws: a lost answer is an UNAVAILABLE error). */
export type SendText = (payload: { id: string; msg: string }) => Promise<TextAnswer>;
export type PendingState = "queued" | "sending" | "failed";

/** Tries per message while the room is usable; attempts cut short by a disconnect do not count. */
const ATTEMPTS = 4;
/** Wait before trying again after a retryable error (the server's retryAfterMs wins). */
const backoffMs = (attempt: number) => 300 * attempt;

/**
 * Answers worth another try with the same id: a lost answer, a key rotated under us (the new key
 * is on its way), a throttle or a busy node. Anything else (NOT_MEMBER after a kick, a refused
 * payload…) would fail again the same way.
 */
const RETRYABLE = new Set<string>([ErrorCode.UNAVAILABLE, ErrorCode.STALE_KEY, ErrorCode.RATE_LIMITED, ErrorCode.BUSY]);

export function messageId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

export class PendingMessage {
  state = $state<PendingState>("queued");
  /** Why it failed (state "failed"). */
  error = $state<ErrorBody | null>(null);
  /** Tries since it was typed or last retried by the user. */
  attempts = 0;
  /** Every envelope sent for it: the server keeps the first one it accepted, whatever the repeats carry. */
  readonly envelopes = new Set<string>();

  constructor(
    /** The `text` payload's id, the same for every attempt. */
    readonly id: string,
    readonly text: string,
    /** When it was typed (local clock), shown until the server's time replaces it. */
    readonly ts: number,
  ) {}
}

export interface Delivered {
  message: PendingMessage;
  seq: number;
  ts: number;
  /** The round trip of the attempt that got the answer; absent when its copy arrived first. */
  rttMs?: number;
}

export class Outbox {
  items = $state<PendingMessage[]>([]);
  /** Whether the room is usable (connected and joined): messages are being sent. */
  isOpen = $state(false);
  private send: SendText | null = null;
  private pumping = false;

  constructor(
    /** Seals a message under the room's current key (again at every attempt: the key may rotate). */
    private readonly encrypt: (text: string) => string,
    private readonly delivered: (delivery: Delivered) => void,
  ) {}

  /** Queues a message; it is sent at once when the room is usable. */
  add(text: string, id = messageId()): PendingMessage {
    const message = new PendingMessage(id, text, Date.now());
    this.items.push(message);
    void this.pump();
    return message;
  }

  /** The room is usable through `send` (connected and joined): send what waits, in order. */
  open(send: SendText): void {
    this.send = send;
    this.isOpen = true;
    void this.pump();
  }

  /** The socket is down (or the room left): hold everything until the next `open`. */
  close(): void {
    this.send = null;
    this.isOpen = false;
  }

  /** A failed message goes back in line, with a fresh count of attempts and the same id. */
  retry(id: string): void {
    const message = this.items.find((item) => item.id === id);
    if (!message || message.state !== "failed") return;
    // Back behind the messages still waiting, as if typed now: the room sees them in that order.
    this.items = [...this.items.filter((item) => item !== message), message];
    message.state = "queued";
    message.error = null;
    message.attempts = 0;
    void this.pump();
  }

  /** Drops a failed message (one on its way cannot be taken back). */
  discard(id: string): void {
    this.items = this.items.filter((item) => item.id !== id || item.state !== "failed");
  }

  /**
   * A message of ours came from the room (its live copy, or a history page after a reconnect):
   * if it carries an envelope sent for a pending message, that message was posted. Its answer may
   * have been lost, or may still come; either way it is delivered now and never sent again.
   */
  arrived(envelope: string, seq: number, ts: number): void {
    const message = this.items.find((item) => item.envelopes.has(envelope));
    if (!message) return;
    this.remove(message);
    this.delivered({ message, seq, ts });
  }

  /** Messages not yet in the room: waiting, on their way, or failed. */
  get size(): number {
    return this.items.length;
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      for (;;) {
        const send = this.send;
        const next = this.items.find((item) => item.state !== "failed");
        if (!send || !next) return;
        await this.attempt(next, send);
      }
    } finally {
      this.pumping = false;
    }
  }

  private async attempt(message: PendingMessage, send: SendText): Promise<void> {
    message.state = "sending";
    const msg = this.encrypt(message.text);
    message.envelopes.add(msg);
    const started = performance.now();
    const answer = await send({ id: message.id, msg });
    if (answer.ok) {
      this.remove(message);
      this.delivered({ message, seq: answer.seq, ts: answer.ts, rttMs: Math.round(performance.now() - started) });
      return;
    }
    if (!this.items.includes(message)) return; // its copy arrived meanwhile: delivered
    if (this.send !== send) {
      // The connection dropped under this attempt (even NOT_MEMBER: the socket may have been
      // answered before the room was rejoined). It waits for the next opening, uncounted.
      message.state = "queued";
      return;
    }
    message.attempts += 1;
    if (!RETRYABLE.has(answer.error.code) || message.attempts >= ATTEMPTS) {
      message.state = "failed";
      message.error = answer.error;
      return;
    }
    message.state = "queued";
    await new Promise((resolve) => setTimeout(resolve, answer.error.retryAfterMs ?? backoffMs(message.attempts)));
  }

  private remove(message: PendingMessage): void {
    if (this.items.includes(message)) this.items = this.items.filter((item) => item !== message);
  }
}
