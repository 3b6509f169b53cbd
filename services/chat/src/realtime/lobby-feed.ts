import { nameKey, type PresenceChange, type RoomChange, type RoomSummary } from "@sala/protocol";
import type { Logger } from "../logger.js";
import type { SalaServer } from "./types.js";
import { SocketRooms } from "./types.js";

export interface LobbyFeedOptions {
  /** Presence changes, rooms created and removed are sent this often (LOBBY_FLUSH_MS; 0: at once). */
  flushMs: number;
  /** Member counts are sent this often (LOBBY_COUNTS_MS). */
  countsMs: number;
}

/**
 * Sends this node's lobby changes to the sockets that follow them, coalesced: the sockets following
 * that user or room (SocketRooms.presenceOf / lobbyRoom: the pages they asked for, their
 * conversation partners, their rooms), through a Socket.IO room per user or room, which the sharded
 * adapter maps onto a channel that only nodes with such a socket subscribe to. Member counts go out
 * at a lower rate than the rest. Each change carries the Redis-issued lobby revision, so clients
 * order changes from different nodes correctly.
 *
 * The lobby's first page, which every lobby socket is shown, is not sent from here: each node reads
 * it once per tick and sends its own sockets what changed (first-page-ticker.ts).
 */
export class LobbyFeed {
  private presence = new Map<string, PresenceChange>();
  private rooms = new Map<string, RoomChange>();
  private memberCounts = new Map<string, RoomChange>();
  private timer: NodeJS.Timeout | null = null;
  private countsTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly io: SalaServer,
    private readonly options: LobbyFeedOptions,
    private readonly logger: Logger,
  ) {}

  /** Starts the slower beat of member counts. */
  start(): void {
    this.countsTimer = setInterval(() => this.sendMemberCounts(), this.options.countsMs);
    this.countsTimer.unref();
  }

  /** Stops the beats and sends whatever is pending, member counts included (shutdown). */
  close(): void {
    if (this.countsTimer) clearInterval(this.countsTimer);
    this.countsTimer = null;
    this.flush();
    this.sendMemberCounts();
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

  /** The room's member count changed: sent with the next member counts. */
  roomChanged(room: RoomSummary, rev: number): void {
    const existing = this.memberCounts.get(room.id);
    if (!existing || existing.rev < rev) this.memberCounts.set(room.id, { room, rev });
  }

  roomRemoved(roomId: string, rev: number): void {
    this.memberCounts.delete(roomId);
    this.keepLatest(this.rooms, roomId, { removed: roomId, rev });
  }

  /** Sends whatever is pending now (also called at shutdown). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const presence = [...this.presence.values()];
    const rooms = [...this.rooms.values()];
    this.presence = new Map();
    this.rooms = new Map();
    this.send(presence, rooms);
  }

  private sendMemberCounts(): void {
    const pending = [...this.memberCounts.values()];
    this.memberCounts = new Map();
    this.send([], pending);
  }

  private send(presence: PresenceChange[], rooms: RoomChange[]): void {
    try {
      for (const change of presence) this.io.to(SocketRooms.presenceOf(change.username)).emit("lobby_update", { presence: [change], rooms: [] });
      for (const change of rooms) {
        const id = "removed" in change ? change.removed : change.room.id;
        this.io.to(SocketRooms.lobbyRoom(id)).emit("lobby_update", { presence: [], rooms: [change] });
      }
    } catch (error) {
      // Runs from timers: nothing may escape (an exception there would end the process).
      this.logger.error({ event: "lobby_send_failed", err: (error as Error).message }, "could not send lobby changes");
    }
  }

  private keepLatest<T extends { rev: number }>(pending: Map<string, T>, key: string, change: T): void {
    const existing = pending.get(key);
    if (!existing || existing.rev < change.rev) pending.set(key, change);
    if (this.options.flushMs === 0) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.options.flushMs);
  }
}
