import { setImmediate, setTimeout as sleep } from "node:timers/promises";
import type { LobbyCountsUpdate, LobbyUpdate } from "@sala/protocol";
import type { Logger } from "../logger.js";
import type { LobbyFirstPage, LobbyStore, RoomStore } from "../stores/types.js";
import { firstPageChanges } from "./first-page-changes.js";
import { SocketRooms, type SalaServer } from "./types.js";

/** A tick sends each lobby socket at most this many messages: the changes, the counts. */
const MESSAGES_PER_TICK = 2;
/** Lobby sockets sent a tick's messages in one go (≈ 25 ms of a node's time at ≈ 25 µs each). */
const SLICE_SOCKETS = 500;
/** A snapshot waits this long at most for a tick the budget allows, to show a page newer than the last tick's. */
const SNAPSHOT_WAIT_MS = 25;

export interface FirstPageTickerOptions {
  /** Users, and rooms, on the first page (LOBBY_PAGE_SIZE). */
  pageSize: number;
  /** The page is read again this often at most (LOBBY_TICK_MS). */
  tickMs: number;
  /**
   * What this node may send its lobby sockets per second (LOBBY_SENDS_PER_SEC): a tick sends each
   * of them at most two messages (changes, counts), so with many sockets the ticks come slower.
   */
  sendsPerSec: number;
}

/**
 * The lobby's first page and counts, as every lobby socket of this node is shown them: read from
 * the store once per tick (when its revision moved), compared with the last read, and the changes
 * sent to this node's lobby sockets only: one lobby_update, and lobby_counts when they changed.
 *
 * Why a tick per node rather than each change sent on as it happens: a change on the first page
 * goes to every lobby socket of the cluster. When 100,000 sockets come online together (a restart,
 * the morning), nearly every arrival lands on a first page that is still filling up: sent one by
 * one they made 300 messages per socket and the nodes spent their time in writev (measured, see
 * docs/BENCHMARKS.md, session 12). A tick bounds what each socket receives per second whatever the
 * lobby does, and the budget (`sendsPerSec`) bounds what a node sends.
 *
 * Snapshots take their first page from here (current()), so a socket holds the page the next
 * tick's changes are computed from, like every other lobby socket of the node. A snapshot asks for a
 * page that shows its own user: while the budget allows, that makes a tick at once (a quiet node's
 * sockets see each other come and go without waiting for the next beat).
 */
export class FirstPageTicker {
  private page: LobbyFirstPage | null = null;
  /** When the read that gave `page` started: the page holds every change made before then. */
  private pageReadAt = 0;
  /** When the last tick that sent something started (the budget spaces those). */
  private sentAt = 0;
  /** When the last tick started (the timer's ticks are spaced from it). */
  private tickedAt = 0;
  /** The tick under way, sending included. */
  private running: Promise<void> | null = null;
  /** The tick under way until its page is read (a snapshot need not wait for its sends). */
  private reading: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    private readonly io: SalaServer,
    private readonly lobby: Pick<LobbyStore, "firstPage" | "rev">,
    private readonly rooms: Pick<RoomStore, "summaries">,
    private readonly options: FirstPageTickerOptions,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.schedule();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running?.catch(() => {});
  }

  /**
   * The first page this node's lobby sockets hold, for a snapshot. It should show what happened
   * before `since` (the socket's own user coming online, say): when it is older, a tick comes at
   * once, or within SNAPSHOT_WAIT_MS, as long as the node's lobby sockets stay within the budget;
   * past that, the page is as of the last tick, and the next tick's changes bring the rest. Throws
   * when no page can be read.
   */
  async current(since = 0): Promise<LobbyFirstPage> {
    for (let attempt = 0; attempt < 3; attempt++) {
      if (this.page !== null && this.pageReadAt >= since) break;
      if (this.reading) {
        await this.reading;
        continue;
      }
      const wait = this.page === null ? 0 : this.sentAt + this.budgetInterval() - Date.now();
      if (wait > SNAPSHOT_WAIT_MS) break;
      if (this.running) break; // a tick is still sending: its page is the one to hold
      if (wait > 0) await sleep(wait);
      await this.tick();
    }
    if (this.page === null) await this.tick();
    return this.page!;
  }

  /** Reads the page when the lobby's revision moved, and sends what changed. Ticks never overlap. */
  tick(): Promise<void> {
    if (this.running) return this.running;
    let pageRead: () => void = () => {};
    let readFailed: (error: unknown) => void = () => {};
    const reading = new Promise<void>((resolve, reject) => {
      pageRead = resolve;
      readFailed = reject;
    });
    reading.catch(() => {}); // its failure reaches the tick's callers through `running`
    this.reading = reading;
    this.running = this.readAndSend(() => {
      if (this.reading === reading) this.reading = null;
      pageRead();
    })
      .catch((error: unknown) => {
        readFailed(error);
        throw error;
      })
      .finally(() => {
        if (this.reading === reading) this.reading = null;
        this.running = null;
      });
    return this.running;
  }

  /** Ticks come every tickMs, slower when this node has more lobby sockets than the budget allows. */
  tickInterval(): number {
    return Math.max(this.options.tickMs, this.budgetInterval());
  }

  /** The shortest time between two ticks for this node's lobby sockets to stay within the budget. */
  private budgetInterval(): number {
    const lobbySockets = this.io.of("/").adapter.rooms.get(SocketRooms.lobby)?.size ?? 0;
    return (MESSAGES_PER_TICK * 1000 * lobbySockets) / this.options.sendsPerSec;
  }

  private schedule(delay = this.tickInterval()): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      // A snapshot's tick may have come meanwhile: the beat counts from the latest tick.
      const early = this.tickedAt + this.tickInterval() - Date.now();
      if (early > 0) return this.schedule(early);
      this.tick().then(
        () => this.schedule(),
        (error: unknown) => {
          // From a timer: nothing may escape (an unhandled rejection would end the process).
          this.logger.warn({ event: "lobby_tick_failed", err: (error as Error).message }, "could not read the lobby's first page");
          this.schedule();
        },
      );
    }, delay);
    this.timer.unref();
  }

  /** `pageRead` is called once the page is what the sends are about (before they start). */
  private async readAndSend(pageRead: () => void): Promise<void> {
    const startedAt = Date.now();
    this.tickedAt = startedAt;
    const before = this.page;
    if (before !== null && (await this.lobby.rev()) === before.rev) {
      this.pageReadAt = startedAt;
      return pageRead();
    }
    const after = await this.lobby.firstPage(this.options.pageSize);
    const update = before === null ? { presence: [], rooms: [] } : await this.changes(before, after);
    // The page and what is sent about it change together (no await between): a snapshot is either
    // of the old page, and then gets these changes, or of the new one.
    this.page = after;
    this.pageReadAt = startedAt;
    pageRead();
    if (before === null) return; // the node's first read: its sockets get it in their snapshots
    const changed = update.presence.length > 0 || update.rooms.length > 0;
    const counted = before.counts.users !== after.counts.users || before.counts.rooms !== after.counts.rooms;
    if (!changed && !counted) return;
    this.sentAt = startedAt;
    await this.sendInSlices(changed ? update : null, counted ? { ...after.counts, rev: after.rev } : null);
  }

  /**
   * Sends the lobby sockets there now (those holding the old page) their tick's messages, SLICE_SOCKETS
   * at a time, letting the event loop run between slices: one emit to 12,500 sockets held a node for
   * ≈ 300 ms (a writev each), long enough to show in every room's delivery times. Each slice's
   * messages are encoded once (an emit to the slice's socket ids). The next tick waits for the
   * last slice, so every socket gets the ticks in order.
   */
  private async sendInSlices(update: LobbyUpdate | null, counts: LobbyCountsUpdate | null): Promise<void> {
    const ids = [...(this.io.of("/").adapter.rooms.get(SocketRooms.lobby) ?? [])];
    for (let start = 0; start < ids.length; start += SLICE_SOCKETS) {
      if (start > 0) await setImmediate();
      const slice = this.io.local.to(ids.slice(start, start + SLICE_SOCKETS));
      if (update) slice.emit("lobby_update", update);
      if (counts) slice.emit("lobby_counts", counts);
    }
  }

  /** The changes, rooms that left the page included: with their new summary, or as removed when gone. */
  private async changes(before: LobbyFirstPage, after: LobbyFirstPage): Promise<LobbyUpdate> {
    const { presence, rooms, roomsOff } = firstPageChanges(before, after, this.options.pageSize);
    if (roomsOff.length > 0) {
      const still = new Map((await this.rooms.summaries(roomsOff)).map((room) => [room.id, room]));
      for (const id of roomsOff) {
        const room = still.get(id);
        rooms.push(room ? { room, rev: after.rev } : { removed: id, rev: after.rev });
      }
    }
    return { presence, rooms };
  }
}
