import { compareNameKeys, nameKey, type LobbyCounts, type LobbyUpdate, type PresenceChange, type RoomChange, type RoomSummary } from "@sala/protocol";
import type { Logger } from "../logger.js";
import type { BoundaryTail, LobbyBoundary, LobbyStore, RoomStore } from "../stores/types.js";
import type { SalaServer } from "./types.js";
import { SocketRooms } from "./types.js";

/** A room change waiting to be sent, with the highest member count the room had since the last send. */
type PendingRoomChange = RoomChange & { peak?: number };

export interface LobbyFeedOptions {
  /** Presence changes, rooms created and removed are sent this often (LOBBY_FLUSH_MS; 0: at once). */
  flushMs: number;
  /** Member counts, and the lobby's counts, are sent this often (LOBBY_COUNTS_MS). */
  countsMs: number;
  /** The lobby's first page: what every lobby socket is shown (LobbyLimits.pageMax). */
  pageSize: number;
}

/**
 * Sends this node's lobby changes to the sockets that can see them, coalesced: a change reaches
 * - every lobby socket of the cluster (Socket.IO room `lobby`) only when it is on the lobby's first
 *   page (the boundary is read once per flush: lobby.boundary), so that churn among 50,000 users
 *   does not reach everyone;
 * - the sockets following that user or room (SocketRooms.presenceOf / lobbyRoom: the pages they
 *   asked for, their conversation partners), through a Socket.IO room per user or room, which the
 *   sharded adapter maps onto a channel that only nodes with such a socket subscribe to.
 * Member counts go out at a lower rate than the rest, and each node sends its own lobby sockets
 * the lobby's counts when they changed. Each change carries the Redis-issued lobby revision, so
 * clients order changes from different nodes correctly.
 */
export class LobbyFeed {
  private presence = new Map<string, PresenceChange>();
  private rooms = new Map<string, RoomChange>();
  private memberCounts = new Map<string, { room: RoomSummary; rev: number; peak: number }>();
  /** A removed room's member count when it went (to tell whether it was on the first page). */
  private removedCounts = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  private countsTimer: NodeJS.Timeout | null = null;
  private lastCounts = "";
  /** Sends run one after the other (in the order their changes were taken), and close() waits for them. */
  private sending: Promise<void> = Promise.resolve();

  constructor(
    private readonly io: SalaServer,
    private readonly lobby: LobbyStore,
    private readonly roomStore: Pick<RoomStore, "summaries">,
    private readonly options: LobbyFeedOptions,
    private readonly logger: Logger,
  ) {}

  /** Starts the slower beat: member counts, then the lobby's counts, every `countsMs`. */
  start(): void {
    this.countsTimer = setInterval(() => void this.sendCounts(), this.options.countsMs);
    this.countsTimer.unref();
  }

  /** Stops the beats and sends whatever is pending, member counts included (shutdown). */
  async close(): Promise<void> {
    if (this.countsTimer) clearInterval(this.countsTimer);
    this.countsTimer = null;
    await this.flush();
    await this.sendMemberCounts();
    await this.sending;
  }

  userOnline(username: string, rev: number): void {
    this.keepLatest(this.presence, nameKey(username), { username, online: true, rev });
  }

  userOffline(username: string, rev: number): void {
    this.keepLatest(this.presence, nameKey(username), { username, online: false, rev });
  }

  roomCreated(room: RoomSummary, rev: number): void {
    this.keepLatest(this.rooms, room.id, { room, rev });
  }

  /**
   * The room's member count changed from `before`: sent with the next counts. `peak` is the highest
   * count it had since the last send, to tell whether it was on the first page before.
   */
  roomChanged(room: RoomSummary, rev: number, before: number): void {
    const existing = this.memberCounts.get(room.id);
    const peak = Math.max(existing?.peak ?? 0, before, room.memberCount);
    if (!existing || existing.rev < rev) this.memberCounts.set(room.id, { room, rev, peak });
    else existing.peak = peak;
  }

  roomRemoved(roomId: string, rev: number, memberCount: number): void {
    this.memberCounts.delete(roomId);
    this.removedCounts.set(roomId, memberCount);
    this.keepLatest(this.rooms, roomId, { removed: roomId, rev });
  }

  /** Sends whatever is pending now (also called at shutdown). */
  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.presence.size === 0 && this.rooms.size === 0) return;
    const presence = [...this.presence.values()];
    const rooms = [...this.rooms.values()];
    const removedCounts = this.removedCounts;
    this.presence = new Map();
    this.rooms = new Map();
    this.removedCounts = new Map();
    await this.queue(() => this.send(presence, rooms, removedCounts));
  }

  /** Member counts, then the lobby's counts to this node's lobby sockets when they changed. */
  async sendCounts(): Promise<void> {
    await this.sendMemberCounts();
    if (this.io.of("/").sockets.size === 0) return;
    let counts: LobbyCounts;
    try {
      counts = await this.lobby.counts();
    } catch (error) {
      this.logger.warn({ event: "lobby_counts_failed", err: (error as Error).message }, "could not read the lobby's counts");
      return;
    }
    const seen = `${counts.users}:${counts.rooms}`;
    if (seen === this.lastCounts) return;
    this.lastCounts = seen;
    this.io.local.to(SocketRooms.lobby).emit("lobby_counts", counts);
  }

  private async sendMemberCounts(): Promise<void> {
    if (this.memberCounts.size === 0) return;
    const pending = [...this.memberCounts.values()];
    this.memberCounts = new Map();
    await this.queue(() => this.send([], pending, new Map()));
  }

  /** `send` never throws (it logs), so the queue never breaks. */
  private queue(send: () => Promise<void>): Promise<void> {
    this.sending = this.sending.then(send);
    return this.sending;
  }

  /**
   * `rooms`: changes, each with the highest member count the room had since the last send (`peak`),
   * or removals with their count when they went (`removedCounts`).
   */
  private async send(presence: PresenceChange[], rooms: PendingRoomChange[], removedCounts: Map<string, number>): Promise<void> {
    try {
      const { pageSize } = this.options;
      // Entries that may leave the page, so that as many of the page's last entries are read: they
      // are the ones that move onto it.
      const leaving = {
        users: presence.filter((change) => !change.online).length,
        rooms: rooms.filter((change) => "removed" in change || (change.peak ?? 0) > change.room.memberCount).length,
      };
      const boundary = await this.boundary({ users: Math.min(1 + leaving.users, pageSize), rooms: Math.min(1 + leaving.rooms, pageSize) });
      const firstPage = await this.firstPageUpdate(boundary, presence, rooms, removedCounts);
      if (firstPage.presence.length > 0 || firstPage.rooms.length > 0) this.io.to(SocketRooms.lobby).emit("lobby_update", firstPage);
      for (const change of presence) this.io.to(SocketRooms.presenceOf(change.username)).emit("lobby_update", { presence: [change], rooms: [] });
      for (const change of rooms.map(strip)) {
        const id = "removed" in change ? change.removed : change.room.id;
        this.io.to(SocketRooms.lobbyRoom(id)).emit("lobby_update", { presence: [], rooms: [change] });
      }
    } catch (error) {
      // Runs from timers: nothing may escape (an unhandled rejection would end the process).
      this.logger.error({ event: "lobby_send_failed", err: (error as Error).message }, "could not send lobby changes");
    }
  }

  /**
   * The changes on the first page. When one takes a user or a room off it, those that moved onto it
   * (the page's last entries, read with the boundary) come too, as of the boundary's revision:
   * a client's first page would otherwise shrink and get holes (LobbyState keeps only a page).
   */
  private async firstPageUpdate(boundary: LobbyBoundary, presence: PresenceChange[], rooms: PendingRoomChange[], removedCounts: Map<string, number>): Promise<LobbyUpdate> {
    const onPage = (change: PendingRoomChange) =>
      "removed" in change
        ? roomOnPage(boundary, change.removed, removedCounts.get(change.removed) ?? 0)
        : roomOnPage(boundary, change.room.id, Math.max(change.room.memberCount, change.peak ?? 0));
    const update: LobbyUpdate = {
      presence: presence.filter((change) => userOnPage(boundary, nameKey(change.username))),
      rooms: rooms.filter(onPage).map(strip),
    };
    if (update.presence.some((change) => !change.online)) {
      const listed = new Set(update.presence.map((change) => nameKey(change.username)));
      for (const { key, username } of boundary.users) if (!listed.has(key)) update.presence.push({ username, online: true, rev: boundary.rev });
    }
    if (rooms.some((change) => onPage(change) && ("removed" in change || (change.peak ?? 0) > change.room.memberCount))) {
      const listed = new Set(update.rooms.map((change) => ("removed" in change ? change.removed : change.room.id)));
      const movedOn = await this.roomStore.summaries(boundary.rooms.map((room) => room.id).filter((id) => !listed.has(id)));
      for (const room of movedOn) update.rooms.push({ rev: boundary.rev, room });
    }
    return update;
  }

  /** Where the first page ends now; when it cannot be read, everything counts as on it (as before paging). */
  private async boundary(tail: BoundaryTail): Promise<LobbyBoundary> {
    try {
      return await this.lobby.boundary(this.options.pageSize, tail);
    } catch (error) {
      this.logger.warn({ event: "lobby_boundary_failed", err: (error as Error).message }, "could not read the lobby's first page; sending changes to every lobby socket");
      return { rev: 0, users: [], rooms: [] };
    }
  }

  private keepLatest<T extends { rev: number }>(pending: Map<string, T>, key: string, change: T): void {
    const existing = pending.get(key);
    if (!existing || existing.rev < change.rev) pending.set(key, change);
    if (this.options.flushMs === 0) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), this.options.flushMs);
  }
}

/**
 * Read after the change: a user who came online is on the page when their key is within it; one
 * who went offline was on it exactly when their key is within the page without them.
 */
function userOnPage(boundary: LobbyBoundary, key: string): boolean {
  const last = boundary.users.at(-1);
  return last === undefined || compareNameKeys(key, last.key) <= 0;
}

/** The change as clients get it (without the feed's own bookkeeping). */
function strip(change: PendingRoomChange): RoomChange {
  return "removed" in change ? { rev: change.rev, removed: change.removed } : { rev: change.rev, room: change.room };
}

function roomOnPage(boundary: LobbyBoundary, id: string, memberCount: number): boolean {
  const last = boundary.rooms.at(-1);
  if (last === undefined) return true;
  return memberCount > last.memberCount || (memberCount === last.memberCount && id >= last.id);
}

