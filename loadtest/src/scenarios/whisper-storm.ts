/**
 * Whisper storm: users in pairs (0↔1, 2↔3, …) whisper to each other at a fixed total rate.
 * Measures the send→ack round trip and the delivery latency, and counts lost and duplicated
 * whispers per receiver by the sender's own counter (carried inside the message).
 */
import type { Whisper } from "@sala/protocol";
import { DeliveryLedger } from "../delivery-ledger.js";
import type { SioClient } from "../sio-client.js";
import { pace, settle } from "../pacer.js";
import { Samples, round } from "../stats.js";
import { connect, inPool, type LoadUser, type Target } from "../target.js";
import { ms } from "./report.js";

interface Peer {
  user: LoadUser;
  client: SioClient;
  partner: string;
  sent: number;
}

export interface WhisperResult {
  rate: number;
  seconds: number;
  sent: number;
  acked: number;
  failed: number;
  received: number;
  lost: number;
  duplicates: number;
  ackRtt: Samples;
  deliveryLatency: Samples;
}

const pairOf = (from: string, to: string) => `${from}>${to}`;

export class WhisperStorm {
  private readonly ledger = new DeliveryLedger();
  private deliveryLatency = new Samples();

  private constructor(private readonly peers: Peer[]) {}

  static async open(target: Target, users: LoadUser[]): Promise<WhisperStorm> {
    const even = users.slice(0, users.length - (users.length % 2));
    if (even.length < 2) throw new Error("whisper storm: needs at least two users");
    const peers = await inPool(even, 50, async (user, i) => ({
      user,
      client: await connect(target, user, target.urls[i % target.urls.length]!),
      partner: even[i ^ 1]!.username,
      sent: 0,
    }));
    const storm = new WhisperStorm(peers);
    for (const peer of peers) {
      storm.ledger.expect(peer.user.username, pairOf(peer.partner, peer.user.username));
      peer.client.on("private_message", (whisper) => storm.onWhisper(peer, whisper));
    }
    return storm;
  }

  async run(rate: number, seconds: number, onProgress?: (p: { elapsedSec: number; sent: number; acked: number; received: number }) => void): Promise<WhisperResult> {
    this.ledger.reset();
    this.deliveryLatency = new Samples();
    const ackRtt = new Samples();
    const inFlight = new Set<Promise<void>>();
    const total = Math.round(rate * seconds);
    let sent = 0;
    let acked = 0;
    let failed = 0;
    const start = Date.now();
    const sendOne = (peer: Peer) => {
      const n = ++peer.sent;
      const t0 = Date.now();
      const request = peer.client
        .request("private_message", { to: peer.partner, msg: JSON.stringify({ t: t0, n }) }, 10_000)
        .then((answer) => {
          if (!answer.ok) return void failed++;
          acked++;
          ackRtt.add(Date.now() - t0);
          this.ledger.acknowledged(pairOf(peer.user.username, peer.partner), n);
        })
        .catch(() => void failed++)
        .finally(() => inFlight.delete(request));
      inFlight.add(request);
    };
    await pace(
      rate,
      total,
      (i) => {
        sent++;
        sendOne(this.peers[i % this.peers.length]!);
      },
      (elapsedSec) => onProgress?.({ elapsedSec, sent, acked, received: this.ledger.deliveries }),
    );
    const elapsed = (Date.now() - start) / 1000;
    await Promise.all(inFlight);
    await settle(() => this.ledger.deliveries >= this.ledger.expected(), 5000);
    return {
      rate,
      seconds: elapsed,
      sent,
      acked,
      failed,
      received: this.ledger.deliveries,
      lost: this.ledger.missing(),
      duplicates: this.ledger.duplicates,
      ackRtt,
      deliveryLatency: this.deliveryLatency,
    };
  }

  async close(): Promise<void> {
    await Promise.all(this.peers.map((peer) => peer.client.close()));
  }

  private onWhisper(peer: Peer, whisper: Whisper): void {
    if (whisper.to !== peer.user.username) return;
    let body: { t?: unknown; n?: unknown };
    try {
      body = JSON.parse(whisper.msg) as typeof body;
    } catch {
      return;
    }
    if (typeof body.n !== "number" || typeof body.t !== "number") return;
    if (this.ledger.delivered(peer.user.username, pairOf(whisper.from, peer.user.username), body.n)) {
      this.deliveryLatency.add(Date.now() - body.t);
    }
  }
}

export function whisperSummary(r: WhisperResult): string {
  return (
    `${r.rate} whispers/s for ${round(r.seconds)} s: sent ${r.sent}, acked ${r.acked}, failed ${r.failed}, received ${r.received}, lost ${r.lost}, duplicated ${r.duplicates} · ` +
    `ack ms p50 ${ms(r.ackRtt, 50)} p99 ${ms(r.ackRtt, 99)}; delivery ms p50 ${ms(r.deliveryLatency, 50)} p99 ${ms(r.deliveryLatency, 99)}`
  );
}
