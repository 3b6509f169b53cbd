/**
 * What room chat and whisper storm share: their metrics and thresholds, the paced sending loop,
 * and each receiver's count of lost and duplicated deliveries.
 *
 * A stream is a room or a conversation; in both, Sala numbers every accepted message with the
 * next `seq` of that stream (docs/PROTOCOL.md 6.8: no gaps, a refused message uses no number), and
 * delivers it to every member (both participants), the sender included. k6 VUs share no memory, so a receiver cannot
 * learn from the senders which seqs were acknowledged; it does not need to: when it stops sending,
 * every seq from the one after its join to the highest it has seen (live or in its own acks) was
 * accepted, so after a drain each one missing is a lost delivery and each one seen twice a
 * duplicate (counted with the DeliveryLedger of the Node driver).
 */
import { check } from "k6";
import { Counter, Trend } from "k6/metrics";
import type { Options } from "k6/options";
import type { ErrorBody } from "@sala/protocol";
import { openPayload } from "../../src/chat-payload.js";
import { DeliveryLedger } from "../../src/delivery-ledger.js";
import { settle } from "../../src/pacer.js";
import { ALL_CHECKS, durationMs, latencyThresholds, positive, text } from "./config.js";

const ackRtt = new Trend("sala_ack_rtt", true);
const deliveryLatency = new Trend("sala_delivery_latency", true);
const delivered = new Counter("sala_delivered");
const lost = new Counter("sala_lost");
const duplicated = new Counter("sala_duplicated");

/**
 * USERS VUs, together sending RATE messages a second, each for DURATION from the moment it is in
 * (room joined, conversation open), then waiting up to DRAIN for deliveries still under way.
 * WAIT bounds how long a VU waits for its room's creator or its partner.
 */
export const chat = {
  users: positive("USERS", 100),
  rate: positive("RATE", 100),
  durationMs: durationMs(text("DURATION", "30s")),
  drainMs: durationMs(text("DRAIN", "5s")),
  waitMs: durationMs(text("WAIT", "60s")),
};

/**
 * One iteration per VU, and the thresholds: by default the targets (send→ack p99 ≤ 25 ms,
 * delivery p99 ≤ 100 ms), nothing lost, nothing repeated, every check passed.
 */
export function chatOptions(scenario: string): Options {
  const maxSeconds = Math.ceil((chat.waitMs + chat.durationMs + chat.drainMs) / 1000) + 120; // + signing in
  return {
    scenarios: { [scenario]: { executor: "per-vu-iterations", vus: chat.users, iterations: 1, maxDuration: `${maxSeconds}s` } },
    thresholds: {
      ...latencyThresholds("sala_ack_rtt", "ACK", 15, 25),
      ...latencyThresholds("sala_delivery_latency", "DELIVERY", 50, 100),
      sala_lost: ["count==0"],
      sala_duplicated: ["count==0"],
      ...ALL_CHECKS,
    },
  };
}

type Answer = { ok: true; seq: number } | { ok: false; error: ErrorBody };

/** A message id (8–32 of [A-Za-z0-9_-]) unique to this VU's message n: a resent id is not posted twice. */
export function messageId(vu: number, n: number): string {
  return `k6-${vu.toString(36)}-${n.toString(36).padStart(5, "0")}`;
}

/**
 * Sends this VU's share of RATE for DURATION, open loop (a slow answer does not slow
 * the sending down), starting at a random phase so VUs do not send in lockstep. `send(n)` sends
 * message n (from 1) and returns the server's answer; its round trip goes to sala_ack_rtt.
 * Resolves once every answer is in, with the seqs acknowledged.
 */
export async function sendPaced(send: (n: number, sentAt: number) => Promise<Answer>): Promise<number[]> {
  const periodMs = (1000 * chat.users) / chat.rate;
  const forMs = chat.durationMs;
  const inFlight: Promise<void>[] = [];
  const acked: number[] = [];
  let n = 0;
  const sendOne = () => {
    const sentAt = Date.now();
    const answered = send(++n, sentAt).then(
      (answer) => {
        check(answer, { "message acknowledged": (a) => a.ok });
        if (!answer.ok) return void console.warn(`send refused: ${answer.error.code}`);
        ackRtt.add(Date.now() - sentAt);
        acked.push(answer.seq);
      },
      (error) => void check(error, { "message acknowledged": () => false }),
    );
    inFlight.push(answered);
  };
  await new Promise<void>((resolve) => {
    const end = Date.now() + forMs;
    let timer: number | undefined;
    const tick = () => {
      if (Date.now() < end) return sendOne();
      clearInterval(timer);
      resolve();
    };
    setTimeout(() => {
      tick();
      timer = setInterval(tick, periodMs);
    }, Math.random() * Math.min(periodMs, forMs));
  });
  await Promise.all(inFlight);
  return acked;
}

interface Stream {
  keys: Map<number, string>;
  fromSeq: number;
  highest: number;
}

/** One receiver (this VU) over its streams. Feed it every message as it arrives, from before the join on. */
export class ReceiverTally {
  private readonly ledger = new DeliveryLedger();
  private readonly streams = new Map<string, Stream>();
  private readonly early: { stream: string; seq: number; envelope: string }[] = [];

  /** The join (or open) answered: count from the seq after `fromSeq`, decrypting with `keys`. */
  expect(stream: string, fromSeq: number, keys: Map<number, string>): void {
    this.streams.set(stream, { keys, fromSeq, highest: fromSeq });
    this.ledger.expect("me", stream, fromSeq);
    for (const message of this.early.splice(0)) this.delivered(message.stream, message.seq, message.envelope);
  }

  delivered(stream: string, seq: number, envelope: string): void {
    const state = this.streams.get(stream);
    if (!state) return void this.early.push({ stream, seq, envelope });
    if (seq <= state.fromSeq) return; // before the join: the ack's history covered it
    state.highest = Math.max(state.highest, seq);
    if (!this.ledger.delivered("me", stream, seq)) return void duplicated.add(1);
    delivered.add(1);
    const payload = openPayload(envelope, stream, state.keys);
    check(payload, { "delivery decrypts": (p) => p !== null });
    if (payload) deliveryLatency.add(Date.now() - payload.sentAt);
  }

  /**
   * Sending stopped and `ownAcked` are the seqs of our own messages: every seq up to the highest
   * seen so far was accepted. Waits up to DRAIN for the missing ones, then counts them lost.
   * `ownEchoed`: whether our own messages come back to us (room messages do; for whispers only the
   * partner's count, as the partner's tally counts ours).
   */
  async finish(stream: string, ownAcked: number[], ownEchoed = true): Promise<void> {
    const state = this.streams.get(stream);
    if (!state) return;
    const own = new Set(ownAcked);
    const upTo = ownAcked.reduce((max, seq) => Math.max(max, seq), state.highest);
    for (let seq = state.fromSeq + 1; seq <= upTo; seq++) if (ownEchoed || !own.has(seq)) this.ledger.acknowledged(stream, seq);
    await settle(() => this.ledger.missing() === 0, chat.drainMs);
    lost.add(this.ledger.missing());
    duplicated.add(0); // a sample even when none: the threshold then reads 0, not "no data"
  }
}
