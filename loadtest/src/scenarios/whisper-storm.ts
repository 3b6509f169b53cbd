/**
 * Whisper storm: users in pairs (0↔1, 2↔3, …) whisper to each other at a fixed total rate, each
 * whisper sealed under the pair's conversation key (from `open_conversation`). A whisper reaches
 * every socket of both participants, so both count it: lost and duplicated deliveries by the
 * conversation's sequence number, delivery latency from the send time inside the ciphertext.
 */
import type { RoomKey, Whisper } from "@sala/protocol";
import { openPayload, sealPayload } from "../chat-payload.js";
import { nodeCodec } from "../node-envelope.js";
import { DeliveryLedger } from "../delivery-ledger.js";
import { pace, settle } from "../pacer.js";
import type { SioClient } from "../sio-client.js";
import { Samples, round } from "../stats.js";
import { connect, inPool, type LoadUser, type Target } from "../target.js";
import { ms } from "./report.js";

interface Peer {
  id: string;
  user: LoadUser;
  client: SioClient;
  partner: string;
  conversationId: string;
  key: RoomKey;
  keys: Map<number, string>;
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

export class WhisperStorm {
  private readonly ledger = new DeliveryLedger();
  private readonly sentAtByEnvelope = new Map<string, number>();
  private deliveryLatency = new Samples();

  private constructor(private readonly peers: Peer[]) {}

  static async open(target: Target, users: LoadUser[]): Promise<WhisperStorm> {
    const even = users.slice(0, users.length - (users.length % 2));
    if (even.length < 2) throw new Error("whisper storm: needs at least two users");
    const clients: SioClient[] = [];
    const peers = await inPool(even, 50, async (user, i): Promise<Peer> => {
      const client = await connect(target, user, target.urls[i % target.urls.length]!);
      clients.push(client);
      const partner = even[i ^ 1]!.username;
      const opened = await client.request("open_conversation", { with: partner }, 20_000);
      if (!opened.ok) throw new Error(`open_conversation: ${opened.error.code}`);
      const keys = new Map(opened.keys.map((key) => [key.id, key.key]));
      return { id: `${i}`, user, client, partner, conversationId: opened.conversation.id, key: opened.key, keys, sent: 0 };
    }).catch(async (error: unknown) => {
      await Promise.all(clients.map((client) => client.close()));
      throw error;
    });
    const storm = new WhisperStorm(peers);
    for (const peer of peers) {
      storm.ledger.expect(peer.id, peer.conversationId);
      peer.client.on("private_message", (whisper) => storm.onWhisper(peer, whisper));
    }
    return storm;
  }

  async run(rate: number, seconds: number, onProgress?: (p: { elapsedSec: number; sent: number; acked: number; received: number }) => void): Promise<WhisperResult> {
    this.ledger.reset();
    this.sentAtByEnvelope.clear();
    this.deliveryLatency = new Samples();
    const ackRtt = new Samples();
    const inFlight = new Set<Promise<void>>();
    let sent = 0;
    let acked = 0;
    let failed = 0;
    const start = Date.now();
    const sendOne = (peer: Peer) => {
      const n = ++peer.sent;
      const t0 = Date.now();
      const msg = sealPayload({ sentAt: t0, n }, peer.conversationId, peer.key, nodeCodec);
      const request = peer.client
        .request("private_message", { to: peer.partner, msg, id: `w${peer.id}-${n.toString(36).padStart(6, "0")}` }, 10_000)
        .then((answer) => {
          if (!answer.ok) return void failed++;
          acked++;
          ackRtt.add(Date.now() - t0);
          this.ledger.acknowledged(answer.conversationId, answer.seq);
        })
        .catch(() => void failed++)
        .finally(() => inFlight.delete(request));
      inFlight.add(request);
    };
    await pace(
      rate,
      Math.round(rate * seconds),
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
    if (whisper.conversationId !== peer.conversationId || !this.ledger.delivered(peer.id, whisper.conversationId, whisper.seq)) return;
    let sentAt = this.sentAtByEnvelope.get(whisper.msg);
    if (sentAt === undefined) {
      sentAt = openPayload(whisper.msg, whisper.conversationId, peer.keys, nodeCodec)?.sentAt ?? Number.NaN;
      this.sentAtByEnvelope.set(whisper.msg, sentAt);
    }
    if (!Number.isNaN(sentAt)) this.deliveryLatency.add(Date.now() - sentAt);
  }
}

export function whisperSummary(r: WhisperResult): string {
  return (
    `${r.rate} whispers/s for ${round(r.seconds)} s: sent ${r.sent}, acked ${r.acked}, failed ${r.failed}, deliveries ${r.received} (both participants), lost ${r.lost}, duplicated ${r.duplicates} · ` +
    `ack ms p50 ${ms(r.ackRtt, 50)} p99 ${ms(r.ackRtt, 99)}; delivery ms p50 ${ms(r.deliveryLatency, 50)} p99 ${ms(r.deliveryLatency, 99)}`
  );
}
