/**
 * Room chat under load: U users spread over R rooms (user i in room i mod R), on every node of
 * the target round-robin. Each step sends encrypted messages at a fixed total rate for a fixed
 * time, round-robin over rooms and their members, and measures the send→ack round trip, the
 * delivery latency (the send time travels inside the ciphertext), and lost and duplicated
 * deliveries by sequence number per receiver.
 */
import type { RoomKey, RoomMessage } from "@sala/protocol";
import { openPayload, sealPayload } from "../chat-payload.js";
import { nodeCodec } from "../node-envelope.js";
import { DeliveryLedger } from "../delivery-ledger.js";
import type { SioClient } from "../sio-client.js";
import { pace, settle } from "../pacer.js";
import { Samples } from "../stats.js";
import { connect, inPool, type LoadUser, type Target } from "../target.js";

export interface ChatMember {
  id: string;
  user: LoadUser;
  client: SioClient;
}

interface ChatRoom {
  id: string;
  owner: ChatMember;
  key: RoomKey;
  keys: Map<number, string>;
  members: ChatMember[];
  nextSender: number;
}

export interface ChatStepResult {
  messagesPerSec: number;
  seconds: number;
  sent: number;
  acked: number;
  failed: number;
  /** Error codes (or "timeout") of the sends that failed, with counts. */
  errors: Record<string, number>;
  deliveries: number;
  expected: number;
  lost: number;
  duplicates: number;
  ackRtt: Samples;
  deliveryLatency: Samples;
}

export interface ChatProgress {
  elapsedSec: number;
  sent: number;
  acked: number;
  deliveries: number;
  ackP99: number;
}

export class RoomChat {
  private readonly ledger = new DeliveryLedger();
  private readonly sentAtByEnvelope = new Map<string, number>();
  private counter = 0;
  private current: { ackRtt: Samples; deliveryLatency: Samples } | null = null;

  private constructor(private readonly rooms: ChatRoom[]) {}

  get sockets(): number {
    return this.rooms.reduce((sum, room) => sum + room.members.length, 0);
  }

  /** Connects every user, creates the rooms (their first member owns them) and joins everyone. */
  static async open(target: Target, users: LoadUser[], roomCount: number, roomPrefix: string): Promise<RoomChat> {
    const opened: SioClient[] = [];
    const rooms: ChatRoom[] = [];
    try {
      const members = await inPool(users, 50, async (user, i) => {
        const client = await connect(target, user, target.urls[i % target.urls.length]!);
        opened.push(client);
        return { id: `${i}`, user, client };
      });
      for (let r = 0; r < roomCount; r++) {
        const owner = members[r];
        if (!owner) throw new Error(`room chat: ${roomCount} rooms need at least as many users`);
        const created = await owner.client.request("create_room", { name: `${roomPrefix}${r}` }, 20_000);
        if (!created.ok) throw new Error(`create_room: ${created.error.code}`);
        rooms.push({ id: created.room.id, owner, key: { id: 0, key: "" }, keys: new Map(), members: [], nextSender: 0 });
      }
      const chat = new RoomChat(rooms);
      await inPool(members, 50, async (member, i) => {
        const room = rooms[i % roomCount]!;
        const joined = await member.client.request("join_room", { roomId: room.id }, 30_000);
        if (!joined.ok) throw new Error(`join_room: ${joined.error.code}`);
        room.key = joined.key;
        room.keys.set(joined.key.id, joined.key.key);
        room.members.push(member);
        chat.ledger.expect(member.id, room.id);
        member.client.on("text", (message) => chat.onText(member, room, message));
      });
      return chat;
    } catch (error) {
      // Leave nothing behind: the rooms made so far, and every socket opened.
      await new RoomChat(rooms).deleteRooms();
      await Promise.all(opened.map((client) => client.close()));
      throw error;
    }
  }

  /** Sends `messagesPerSec` for `seconds`, then waits (≤ drainMs) for every acknowledged delivery. */
  async step(messagesPerSec: number, seconds: number, onProgress?: (progress: ChatProgress) => void, drainMs = 5000): Promise<ChatStepResult> {
    this.ledger.reset();
    this.sentAtByEnvelope.clear();
    const ackRtt = new Samples();
    const deliveryLatency = new Samples();
    this.current = { ackRtt, deliveryLatency };
    const errors: Record<string, number> = {};
    const inFlight = new Set<Promise<void>>();
    let sent = 0;
    let acked = 0;
    let failed = 0;
    const total = Math.round(messagesPerSec * seconds);
    const start = Date.now();

    const sendOne = (room: ChatRoom) => {
      const sender = room.members[room.nextSender++ % room.members.length]!;
      const n = ++this.counter;
      const t0 = Date.now();
      const msg = sealPayload({ sentAt: t0, n }, room.id, room.key, nodeCodec);
      const request = sender.client
        .request("text", { roomId: room.id, msg, id: `lt${n.toString(36).padStart(8, "0")}` }, 10_000)
        .then((answer) => {
          if (answer.ok) {
            acked++;
            ackRtt.add(Date.now() - t0);
            this.ledger.acknowledged(room.id, answer.seq);
          } else {
            failed++;
            errors[answer.error.code] = (errors[answer.error.code] ?? 0) + 1;
          }
        })
        .catch(() => {
          failed++;
          errors.timeout = (errors.timeout ?? 0) + 1;
        })
        .finally(() => inFlight.delete(request));
      inFlight.add(request);
    };

    await pace(
      messagesPerSec,
      total,
      (i) => {
        sent++;
        sendOne(this.rooms[i % this.rooms.length]!);
      },
      (elapsedSec) => onProgress?.({ elapsedSec, sent, acked, deliveries: this.ledger.deliveries, ackP99: ackRtt.percentile(99) }),
    );
    const sendingSec = (Date.now() - start) / 1000;
    await Promise.all(inFlight);
    await settle(() => this.ledger.deliveries >= this.ledger.expected(), drainMs);
    this.current = null;
    return {
      messagesPerSec,
      seconds: sendingSec,
      sent,
      acked,
      failed,
      errors,
      deliveries: this.ledger.deliveries,
      expected: this.ledger.expected(),
      lost: this.ledger.missing(),
      duplicates: this.ledger.duplicates,
      ackRtt,
      deliveryLatency,
    };
  }

  /** Deletes the rooms (so the next run starts from an empty lobby) and disconnects everyone. */
  async close(): Promise<void> {
    await this.deleteRooms();
    await Promise.all(this.rooms.flatMap((room) => room.members.map((member) => member.client.close())));
  }

  private async deleteRooms(): Promise<void> {
    await Promise.all(this.rooms.map((room) => room.owner.client.request("delete_room", { roomId: room.id }, 20_000).catch(() => undefined)));
  }

  private onText(member: ChatMember, room: ChatRoom, message: RoomMessage): void {
    if (!this.ledger.delivered(member.id, room.id, message.seq) || !this.current) return;
    // One decryption per distinct message (not per receiver): the driver's CPU goes to the sockets.
    let sentAt = this.sentAtByEnvelope.get(message.msg);
    if (sentAt === undefined) {
      sentAt = openPayload(message.msg, room.id, room.keys, nodeCodec)?.sentAt ?? Number.NaN;
      this.sentAtByEnvelope.set(message.msg, sentAt);
    }
    if (!Number.isNaN(sentAt)) this.current.deliveryLatency.add(Date.now() - sentAt);
  }
}
