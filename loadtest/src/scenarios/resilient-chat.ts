/**
 * Resilient room chat, for fault tests under load: U users, each with one socket through the load
 * balancer, spread over R rooms (user i in room i mod R). Each member reconnects by itself when
 * its socket closes and backfills what it missed (resilient-member.ts). Senders post at a steady
 * total rate, round-robin over rooms and their members; each message has an id, and a send whose
 * answer was lost with its connection goes again with the same id after the reconnect (the
 * server answers a repeat with the first `seq`).
 *
 * The verdict: in every room, the acknowledged `seq`s are exactly 1..maxAckedSeq, each carrying
 * the message it was acknowledged for (so no message was posted twice, none lost its number),
 * and every member handed on exactly 1..maxAckedSeq, in order, once.
 */
import type { RoomMessage } from "@sala/protocol";
import { openPayload, sealPayload } from "../chat-payload.js";
import { nodeCodec } from "../node-envelope.js";
import { pace, settle } from "../pacer.js";
import { ResilientMember, sleep, type MemberSettings, type SharedRoom } from "../resilient-member.js";
import { Samples } from "../stats.js";
import { inPool, type LoadUser, type Target } from "../target.js";

export interface ResilientChatOptions extends Omit<MemberSettings, "target" | "url"> {
  rooms: number;
  roomPrefix: string;
  /** Where every socket goes (default: the target's first URL, meant to be the load balancer). */
  url?: string;
  /** One attempt's wait for its ack (default 10 s). */
  sendTimeoutMs?: number;
  /** A message is resent (same id) until this long after it was first due (default 30 s). */
  sendDeadlineMs?: number;
}

interface ChatRoom extends SharedRoom {
  index: number;
  members: ResilientMember[];
  nextSender: number;
  /** seq → counter of the message acknowledged with it. */
  acked: Map<number, number>;
  /** seq → counter found in the first copy any member received (NaN: did not decrypt). */
  seen: Map<number, number>;
  conflicts: string[];
}

export interface ResilientChatReport {
  clients: number;
  rooms: number;
  /** Messages the senders were asked to post. */
  sent: number;
  acked: number;
  failed: number;
  /** Last error codes of the failed messages ("connection": no answer before the deadline). */
  errors: Record<string, number>;
  /** Attempts after the first, same id. */
  resends: number;
  reconnects: number;
  clientsReconnected: number;
  /** Disconnect → connected again, per reconnect. */
  reconnectMs: Samples;
  /** Failed reconnect attempts by reason. */
  refusals: Record<string, number>;
  /** Distinct messages handed on, by how each member first got them. */
  live: number;
  backfilled: number;
  /** Copies dropped by the merge (a live echo of a backfilled message, …): info, not an error. */
  duplicatesDropped: number;
  historyRequests: number;
  rejoins: number;
  /** Rejoins by members that had been receiving on the same socket: the server took them out of the room while connected. */
  removedWhileConnected: number;
  /** Members still behind when the run settled, brought up to date by one last backfill. */
  tailSynced: number;
  /** Violations of the verdict; empty when it holds. */
  problems: string[];
}

export class ResilientChat {
  readonly members: ResilientMember[];
  private readonly runTag = `rc${Math.random().toString(36).slice(2, 8).padEnd(6, "0")}`;
  private counter = 0;
  private sent = 0;
  private acked = 0;
  private failed = 0;
  private resends = 0;
  private tailSynced = 0;
  private readonly errors: Record<string, number> = {};
  private readonly sendTimeoutMs: number;
  private readonly sendDeadlineMs: number;

  private readonly rooms: ChatRoom[];

  private constructor(target: Target, users: LoadUser[], options: ResilientChatOptions) {
    const settings: MemberSettings = { ...options, target, url: options.url ?? target.urls[0]! };
    this.rooms = Array.from({ length: options.rooms }, (_, index) => ({
      index,
      id: "", // set once its first member has created it
      key: { id: 0, key: "" },
      keys: new Map(),
      members: [],
      nextSender: 0,
      acked: new Map(),
      seen: new Map(),
      conflicts: [],
    }));
    this.members = users.map((user, i) => {
      const room = this.rooms[i % this.rooms.length]!;
      const member = new ResilientMember(i, user, room, settings, (message) => this.observe(room, message));
      room.members.push(member);
      return member;
    });
    this.sendTimeoutMs = options.sendTimeoutMs ?? 10_000;
    this.sendDeadlineMs = options.sendDeadlineMs ?? 30_000;
  }

  /** Connects every user, has the first R create the rooms, and joins everyone to theirs. */
  static async open(target: Target, users: LoadUser[], options: ResilientChatOptions): Promise<ResilientChat> {
    if (users.length < options.rooms) throw new Error(`resilient chat: ${options.rooms} rooms need at least as many users`);
    const chat = new ResilientChat(target, users, options);
    try {
      const clients = await inPool(chat.members, 50, (member) => member.open());
      for (const room of chat.rooms) {
        const created = await clients[room.index]!.request("create_room", { name: `${options.roomPrefix}${room.index}` }, 20_000);
        if (!created.ok) throw new Error(`create_room: ${created.error.code}`);
        room.id = created.room.id;
      }
      await inPool(chat.members, 50, (member) => member.join());
    } catch (error) {
      await chat.close();
      throw error;
    }
    return chat;
  }

  /** Posts `perSec` messages a second for `seconds`; resolves once each is acknowledged or given up. */
  async send(perSec: number, seconds: number): Promise<void> {
    const sends: Array<Promise<void>> = [];
    await pace(perSec, Math.round(perSec * seconds), (i) => {
      const room = this.rooms[i % this.rooms.length]!;
      const sender = room.members[room.nextSender++ % room.members.length]!;
      this.sent++;
      sends.push(this.post(room, sender, ++this.counter));
    });
    await Promise.all(sends);
  }

  /**
   * Waits (≤ `quietMs`) until every member is connected and holds its room up to the last
   * acknowledged `seq`; whoever is still behind then (a message missed live with nothing after
   * it to reveal the gap) backfills once more, for at most `timeoutMs`.
   */
  async settle(quietMs = 5000, timeoutMs = 10_000): Promise<void> {
    const behind = () =>
      this.rooms.flatMap((room) => {
        const max = maxSeq(room);
        return room.members.filter((member) => !member.connected || member.stream.waiting > 0 || member.stream.lastSeq < max);
      });
    await settle(() => behind().length === 0, quietMs);
    const lagging = behind();
    this.tailSynced = lagging.length;
    for (const member of lagging) member.backfill();
    await settle(() => behind().length === 0, timeoutMs);
  }

  report(): ResilientChatReport {
    const reconnectMs = new Samples();
    for (const member of this.members) for (const ms of member.reconnectMs) reconnectMs.add(ms);
    const refusals: Record<string, number> = {};
    for (const member of this.members) for (const [reason, count] of member.refusals) refusals[reason] = (refusals[reason] ?? 0) + count;
    const sum = (pick: (member: ResilientMember) => number) => this.members.reduce((total, member) => total + pick(member), 0);
    return {
      clients: this.members.length,
      rooms: this.rooms.length,
      sent: this.sent,
      acked: this.acked,
      failed: this.failed,
      errors: { ...this.errors },
      resends: this.resends,
      reconnects: reconnectMs.count,
      clientsReconnected: this.members.filter((member) => member.reconnects > 0).length,
      reconnectMs,
      refusals,
      live: sum((member) => member.stream.live),
      backfilled: sum((member) => member.stream.backfilled),
      duplicatesDropped: sum((member) => member.stream.duplicates),
      historyRequests: sum((member) => member.historyRequests),
      rejoins: sum((member) => member.rejoins),
      removedWhileConnected: sum((member) => member.removedWhileConnected),
      tailSynced: this.tailSynced,
      problems: this.verdict(),
    };
  }

  /** Each room's id and the `seq`s every member handed on, in order. */
  receivedSeqs(): Array<{ roomId: string; username: string; seqs: readonly number[] }> {
    return this.members.map((member) => ({ roomId: member.room.id, username: member.user.username, seqs: member.stream.delivered }));
  }

  async close(): Promise<void> {
    await Promise.all(this.members.map((member) => member.close()));
  }

  private async post(room: ChatRoom, sender: ResilientMember, n: number): Promise<void> {
    const id = `${this.runTag}${n.toString(36).padStart(7, "0")}`;
    const dueAt = Date.now();
    const deadline = dueAt + this.sendDeadlineMs;
    let lastError = "connection";
    for (let attempt = 0; Date.now() < deadline; attempt++) {
      const client = await sender.ready(deadline - Date.now());
      if (!client) break;
      if (attempt > 0) this.resends++;
      // Encrypted again each time (the key may have changed); the server keeps the first one.
      const msg = sealPayload({ sentAt: dueAt, n }, room.id, room.key, nodeCodec);
      const answer = await client.request("text", { roomId: room.id, msg, id }, this.sendTimeoutMs).catch(() => null);
      if (answer?.ok) return this.acknowledge(room, n, answer.seq);
      if (!answer) {
        await sleep(50); // lets the member notice its closed socket before asking it again
        continue;
      }
      lastError = answer.error.code;
      if (lastError === "NOT_MEMBER" || lastError === "STALE_KEY") {
        // No longer in the room (its membership lapsed while away): join again, and fetch what was missed meanwhile.
        if (await sender.rejoin(client)) sender.backfill();
      }
      else if (lastError === "RATE_LIMITED" || lastError === "UNAVAILABLE") await sleep(answer.error.retryAfterMs ?? 200);
      else break;
    }
    this.failed++;
    this.errors[lastError] = (this.errors[lastError] ?? 0) + 1;
  }

  private acknowledge(room: ChatRoom, n: number, seq: number): void {
    this.acked++;
    const earlier = room.acked.get(seq);
    if (earlier !== undefined && earlier !== n) room.conflicts.push(`room ${room.index}: seq ${seq} acknowledged for messages #${earlier} and #${n}`);
    room.acked.set(seq, n);
  }

  /** Decrypts each distinct message of a room once, to check later that its seq is the one acknowledged. */
  private observe(room: ChatRoom, message: RoomMessage): void {
    if (!room.seen.has(message.seq)) room.seen.set(message.seq, openPayload(message.msg, room.id, room.keys, nodeCodec)?.n ?? Number.NaN);
  }

  private verdict(): string[] {
    const problems: string[] = [];
    let more = 0;
    const note = (problem: string) => (problems.length < 40 ? problems.push(problem) : more++);
    for (const room of this.rooms) {
      room.conflicts.forEach(note);
      const max = maxSeq(room);
      for (let seq = 1; seq <= max; seq++) {
        const n = room.acked.get(seq);
        if (n === undefined) note(`room ${room.index}: seq ${seq} was never acknowledged (posted twice, or its sender gave up)`);
        else if (room.seen.has(seq) && room.seen.get(seq) !== n) note(`room ${room.index}: seq ${seq} carries message #${room.seen.get(seq)}, acknowledged as #${n}`);
      }
      for (const member of room.members) {
        const seqs = member.stream.delivered;
        const firstWrong = seqs.findIndex((seq, i) => seq !== i + 1);
        if (seqs.length !== max || firstWrong >= 0 || member.stream.waiting > 0) {
          note(
            `room ${room.index}, ${member.user.username}: handed on ${seqs.length} of 1..${max}` +
              (firstWrong >= 0 ? `, out of order at #${firstWrong + 1}` : "") +
              `, ${member.stream.waiting} waiting beyond a gap`,
          );
        }
      }
    }
    if (more > 0) problems.push(`… and ${more} more`);
    return problems;
  }
}

/** The room's highest acknowledged seq. */
function maxSeq(room: ChatRoom): number {
  let max = 0;
  for (const seq of room.acked.keys()) if (seq > max) max = seq;
  return max;
}
