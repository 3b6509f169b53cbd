/**
 * Delivery into one big room while the rest of the bench's sockets sit connected: M members
 * (full clients, sio-client.ts, spread over the nodes so the fan-out crosses them) join one room,
 * a few of them send at a fixed total rate, and every member's deliveries are timed — the send
 * time travels inside the ciphertext (chat-payload.ts), and sender and receivers share this
 * process's clock — and checked for loss and duplicates by sequence number.
 */
import type { RoomKey, RoomMessage } from "@sala/protocol";
import { openPayload, sealPayload } from "../chat-payload.js";
import { DeliveryLedger } from "../delivery-ledger.js";
import { nodeCodec } from "../node-envelope.js";
import { pace, settle } from "../pacer.js";
import type { SioClient } from "../sio-client.js";
import { Samples } from "../stats.js";
import { connect, inPool, type LoadUser, type Target } from "../target.js";

export interface FanoutResult {
  members: number;
  senders: number;
  messagesPerSec: number;
  seconds: number;
  sent: number;
  acked: number;
  failed: number;
  /** Why sends failed: error codes (or "timeout"), with counts. */
  errors: Record<string, number>;
  deliveries: number;
  expected: number;
  lost: number;
  duplicates: number;
  /** Send → receive (ms), one sample per delivery. */
  latency: Samples;
  ackRtt: Samples;
}

export class RoomFanout {
  private readonly ledger = new DeliveryLedger();
  private readonly sentAt = new Map<string, number>();
  private room: { id: string; key: RoomKey; keys: Map<number, string> } | null = null;
  private latency: Samples | null = null;
  /** Messages sent over every step: message ids are never reused (the server would take a reuse for a retry). */
  private counter = 0;

  /** The members still connected (a socket the server dropped under load leaves). */
  private readonly open = new Set<SioClient>();
  /** The members in the room, once joined. */
  private joined: SioClient[] = [];

  private constructor(readonly members: SioClient[]) {
    for (const member of members) {
      this.open.add(member);
      void member.closed.then(() => this.open.delete(member));
    }
  }

  /**
   * Connects the members (member i to urls[(offset + i) % urls.length]), retrying a refusal twice;
   * a member that still cannot connect is left out and counted in `errors`.
   */
  static async connect(target: Target, users: LoadUser[], concurrency: number, offset = 0): Promise<{ fanout: RoomFanout; errors: number; errorSamples: string[] }> {
    const members: SioClient[] = [];
    const errorSamples: string[] = [];
    let errors = 0;
    await inPool(users, concurrency, async (user, i) => {
      try {
        members.push(await connect(target, user, target.urls[(offset + i) % target.urls.length]!, { attempts: 3 }));
      } catch (error) {
        errors++;
        if (errorSamples.length < 3) errorSamples.push(`chat client: ${(error as Error).message}`);
      }
    });
    return { fanout: new RoomFanout(members), errors, errorSamples };
  }

  /**
   * The first member still connected creates the room, every other one joins it; a member whose
   * socket was dropped, or whose join fails, stays out (the count says how many are in).
   */
  async join(name: string, onProgress?: (joined: number) => void): Promise<{ members: number; failed: string[] }> {
    const candidates = this.members.filter((member) => this.open.has(member));
    const owner = candidates[0];
    if (!owner) throw new Error("no chat client is still connected");
    const created = await owner.request("create_room", { name }, 30_000);
    if (!created.ok) throw new Error(`create_room: ${created.error.code}`);
    const room = { id: created.room.id, key: { id: 0, key: "" }, keys: new Map<number, string>() };
    const failed: string[] = [];
    await inPool(candidates, 20, async (member, i) => {
      try {
        const answer = await member.request("join_room", { roomId: room.id }, 60_000);
        if (!answer.ok) throw new Error(`join_room: ${answer.error.code}`);
        room.key = answer.key;
        for (const key of answer.keys) room.keys.set(key.id, key.key);
        this.ledger.expect(String(i), room.id);
        member.on("text", (message) => this.onText(String(i), message));
        this.joined.push(member);
        if (this.joined.length % 100 === 0) onProgress?.(this.joined.length);
      } catch (error) {
        failed.push((error as Error).message);
      }
    });
    // The owner first: the senders are the first members in.
    this.joined.sort((a, b) => (a === owner ? -1 : b === owner ? 1 : 0));
    this.room = room;
    return { members: this.joined.length, failed };
  }

  /** `senders` members send `messagesPerSec` in all for `seconds`; then waits (≤ 5 s) for every delivery. */
  async send(senders: number, messagesPerSec: number, seconds: number): Promise<FanoutResult> {
    const room = this.room;
    if (!room) throw new Error("join first");
    this.ledger.reset();
    const latency = new Samples();
    const ackRtt = new Samples();
    this.latency = latency;
    const inFlight = new Set<Promise<void>>();
    let acked = 0;
    let failed = 0;
    const errors: Record<string, number> = {};
    const fail = (code: string) => {
      failed++;
      errors[code] = (errors[code] ?? 0) + 1;
    };
    const start = Date.now();
    await pace(messagesPerSec, Math.round(messagesPerSec * seconds), () => {
      const n = this.counter++;
      const sender = this.joined[n % senders]!;
      const t0 = Date.now();
      const msg = sealPayload({ sentAt: t0, n }, room.id, room.key, nodeCodec);
      const request = sender
        .request("text", { roomId: room.id, msg, id: `fo${n.toString(36).padStart(8, "0")}` }, 10_000)
        .then((answer) => {
          if (!answer.ok) return fail(answer.error.code);
          acked++;
          ackRtt.add(Date.now() - t0);
          this.ledger.acknowledged(room.id, answer.seq);
        })
        .catch(() => fail("timeout"))
        .finally(() => inFlight.delete(request));
      inFlight.add(request);
    });
    const sendingSec = (Date.now() - start) / 1000;
    await Promise.all(inFlight);
    await settle(() => this.ledger.deliveries >= this.ledger.expected(), 5000);
    this.latency = null;
    return {
      members: this.joined.length,
      senders,
      messagesPerSec,
      seconds: sendingSec,
      sent: Math.round(messagesPerSec * seconds),
      acked,
      failed,
      errors,
      deliveries: this.ledger.deliveries,
      expected: this.ledger.expected(),
      lost: this.ledger.missing(),
      duplicates: this.ledger.duplicates,
      latency,
      ackRtt,
    };
  }

  async close(): Promise<void> {
    await Promise.all(this.members.map((client) => client.close()));
  }

  private onText(member: string, message: RoomMessage): void {
    const room = this.room;
    if (!room || !this.latency || !this.ledger.delivered(member, room.id, message.seq)) return;
    // One decryption per message, not per receiver.
    let sentAt = this.sentAt.get(message.msg);
    if (sentAt === undefined) {
      sentAt = openPayload(message.msg, room.id, room.keys, nodeCodec)?.sentAt ?? Number.NaN;
      this.sentAt.set(message.msg, sentAt);
    }
    if (!Number.isNaN(sentAt)) this.latency.add(Date.now() - sentAt);
  }
}
