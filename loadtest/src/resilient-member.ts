/**
 * One load user in one room that stays connected and complete: when its socket closes (not by
 * us) it reconnects through the same URL after a short random backoff, naming its room in the
 * handshake (`auth.rooms`) so the server puts the new socket back before anything else, and
 * backfills with `history` after the last contiguous `seq` it holds, page by page. A live message
 * that skips ahead gets the gap backfilled too, after a short grace (messages accepted by
 * different nodes may arrive slightly out of order, and the missing one may still come live).
 */
import type { RoomKey, RoomMessage } from "@sala/protocol";
import { SeqStream, type Arrival } from "./seq-stream.js";
import type { SioClient } from "./sio-client.js";
import { connect, type LoadUser, type Target } from "./target.js";

/** A room as its members share it: the key to encrypt with and every key seen (join_room and history refresh them). */
export interface SharedRoom {
  id: string;
  key: RoomKey;
  keys: Map<number, string>;
}

export interface MemberSettings {
  target: Target;
  /** Where every (re)connection goes: the load balancer. */
  url: string;
  /** Random delay before a reconnect attempt, growing with failed attempts (default 100–250 ms). */
  reconnectDelayMs?: [number, number];
  /** `history` page size (default 200, the protocol's maximum). */
  historyLimit?: number;
  /** How long a skipped `seq` may still arrive live before the gap is backfilled (default 200 ms). */
  gapGraceMs?: number;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class ResilientMember {
  readonly stream = new SeqStream();
  /** Milliseconds from each unexpected close to the next connected socket. */
  readonly reconnectMs: number[] = [];
  /** When each unexpected close was noticed. */
  readonly disconnectedAt: number[] = [];
  historyRequests = 0;
  /** join_room sent again because the server no longer counted the user a member (NOT_MEMBER). */
  rejoins = 0;
  /** Of those, after live messages had come on the same socket: taken out of the room while connected. */
  removedWhileConnected = 0;
  /** Failed reconnect attempts by reason (a draining node's UNAVAILABLE, a refused connection, …). */
  readonly refusals = new Map<string, number>();
  private client: SioClient | null = null;
  private liveOnSocket = 0;
  private closing = false;
  private waiters: Array<() => void> = [];
  private backfilling = false;
  private backfillAgain = false;
  private gapTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly limit: number;

  constructor(
    readonly index: number,
    readonly user: LoadUser,
    readonly room: SharedRoom,
    private readonly settings: MemberSettings,
    /** Called once per message this member had not held yet. */
    private readonly onNew: (message: RoomMessage) => void = () => {},
  ) {
    this.limit = settings.historyLimit ?? 200;
  }

  get reconnects(): number {
    return this.reconnectMs.length;
  }

  get connected(): boolean {
    return this.client !== null;
  }

  /** The first connection (no room yet). */
  async open(): Promise<SioClient> {
    const client = await connect(this.settings.target, this.user, this.settings.url, { prepare: (c) => this.listen(c) });
    this.adopt(client);
    return client;
  }

  /** The first join_room (the room must exist by now); throws when refused. */
  async join(): Promise<void> {
    const client = await this.ready(0);
    if (!client || !(await this.rejoin(client, false))) throw new Error(`join_room ${this.user.username}: refused or no answer`);
  }

  /** The connected socket, waiting (at most `timeoutMs`) while a reconnect is under way; null if none came. */
  async ready(timeoutMs: number): Promise<SioClient | null> {
    if (this.client || this.closing) return this.client;
    await new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((waiter) => waiter !== wake);
        resolve();
      };
      const timer = setTimeout(wake, timeoutMs);
      this.waiters.push(wake);
    });
    return this.client;
  }

  /** join_room again (a public room needs no password): the room's current key, and membership back. */
  async rejoin(client: SioClient, counted = true): Promise<boolean> {
    const wasLive = this.liveOnSocket > 0;
    const joined = await client.request("join_room", { roomId: this.room.id }, 20_000).catch(() => null);
    if (!joined?.ok) return false;
    if (counted) {
      this.rejoins++;
      if (wasLive) this.removedWhileConnected++;
    }
    this.room.key = joined.key;
    this.keep(joined.keys);
    for (const message of joined.history) this.receive(message, "backfill");
    return true;
  }

  /** Fetches everything after the last contiguous `seq` (one run at a time; a call meanwhile runs it again). */
  backfill(): void {
    if (this.backfilling) {
      this.backfillAgain = true;
      return;
    }
    this.backfilling = true;
    void (async () => {
      do {
        this.backfillAgain = false;
        await this.fetchAfterLast();
      } while (this.backfillAgain && !this.closing);
      this.backfilling = false;
    })();
  }

  /** Stops for good: no reconnects after this. */
  close(): Promise<unknown> {
    this.closing = true;
    clearTimeout(this.gapTimer);
    for (const wake of [...this.waiters]) wake();
    return this.client?.close() ?? Promise.resolve();
  }

  private keep(keys: RoomKey[]): void {
    for (const key of keys) this.room.keys.set(key.id, key.key);
  }

  private listen(client: SioClient): void {
    client.on("text", (message) => this.receive(message, "live"));
  }

  private receive(message: RoomMessage, arrival: Arrival): void {
    if (message.roomId !== this.room.id || !this.stream.offer(message.seq, arrival)) return;
    this.onNew(message);
    if (arrival === "live") this.liveOnSocket++;
    if (arrival === "live" && this.stream.waiting > 0) this.scheduleGapFill();
  }

  private scheduleGapFill(): void {
    if (this.gapTimer) return;
    this.gapTimer = setTimeout(() => {
      this.gapTimer = undefined;
      if (this.stream.waiting > 0) this.backfill();
    }, this.settings.gapGraceMs ?? 200);
  }

  private async fetchAfterLast(): Promise<void> {
    let afterSeq = this.stream.lastSeq;
    for (;;) {
      const client = this.client;
      if (!client) return; // the reconnect backfills
      this.historyRequests++;
      const page = await client.request("history", { roomId: this.room.id, afterSeq, limit: this.limit }, 10_000).catch(() => null);
      if (!page) {
        // The connection dropped (the reconnect backfills again) or the answer was late: try again.
        if (this.client === client) this.backfillAgain = true;
        await sleep(100);
        return;
      }
      if (!page.ok) {
        if (page.error.code === "NOT_MEMBER" && (await this.rejoin(client))) continue;
        await sleep(page.error.retryAfterMs ?? 200);
        this.backfillAgain = true;
        return;
      }
      this.keep(page.keys);
      for (const message of page.messages) this.receive(message, "backfill");
      if (page.messages.length < this.limit) return;
      afterSeq = page.messages[page.messages.length - 1]!.seq;
    }
  }

  private adopt(client: SioClient): void {
    this.client = client;
    this.liveOnSocket = 0;
    void client.closed.then(() => {
      if (this.client !== client) return;
      this.client = null;
      if (this.closing) return;
      const at = Date.now();
      this.disconnectedAt.push(at);
      void this.reconnect(at);
    });
    for (const wake of [...this.waiters]) wake();
  }

  private async reconnect(since: number): Promise<void> {
    const [min, max] = this.settings.reconnectDelayMs ?? [100, 250];
    for (let attempt = 1; !this.closing; attempt++) {
      await sleep((min + Math.random() * (max - min)) * Math.min(attempt, 8));
      if (this.closing) return;
      try {
        const client = await connect(this.settings.target, this.user, this.settings.url, {
          auth: { rooms: [this.room.id] },
          attempts: 1, // this loop retries, with its own backoff
          prepare: (c) => this.listen(c),
        });
        if (this.closing) {
          void client.close();
          return;
        }
        this.reconnectMs.push(Date.now() - since);
        this.adopt(client);
        this.backfill();
        return;
      } catch (error) {
        // refused (UNAVAILABLE from a draining node) or unreachable: back off and try again
        const reason = (error as Error).message.replace(/^connect_error: /, "");
        this.refusals.set(reason, (this.refusals.get(reason) ?? 0) + 1);
      }
    }
  }
}
