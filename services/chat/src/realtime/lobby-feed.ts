import type { LobbyUpdate, PresenceChange, RoomChange, RoomSummary } from "@sala/protocol";
import { nameKey } from "../stores/types.js";
import type { SalaServer } from "./types.js";
import { SocketRooms } from "./types.js";

/**
 * Coalesces this node's lobby changes (presence, rooms, member counts) and sends them to every
 * lobby socket in the cluster as one `lobby_update` per flush interval. Under churn this bounds
 * lobby traffic to one message per socket per interval per node, instead of one per change.
 * Each change carries the Redis-issued lobby revision, so clients order changes from different
 * nodes correctly.
 */
export class LobbyFeed {
  private presence = new Map<string, PresenceChange>();
  private rooms = new Map<string, RoomChange>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly io: SalaServer,
    private readonly flushMs: number,
  ) {}

  userOnline(username: string, rev: number): void {
    this.keepLatest(this.presence, nameKey(username), { username, online: true, rev });
  }

  userOffline(username: string, rev: number): void {
    this.keepLatest(this.presence, nameKey(username), { username, online: false, rev });
  }

  roomChanged(room: RoomSummary, rev: number): void {
    this.keepLatest(this.rooms, room.id, { room, rev });
  }

  roomRemoved(roomId: string, rev: number): void {
    this.keepLatest(this.rooms, roomId, { removed: roomId, rev });
  }

  /** Sends whatever is pending now (also called at shutdown). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.presence.size === 0 && this.rooms.size === 0) return;
    const update: LobbyUpdate = { presence: [...this.presence.values()], rooms: [...this.rooms.values()] };
    this.presence = new Map();
    this.rooms = new Map();
    this.io.to(SocketRooms.lobby).emit("lobby_update", update);
  }

  private keepLatest<T extends { rev: number }>(pending: Map<string, T>, key: string, change: T): void {
    const existing = pending.get(key);
    if (!existing || existing.rev < change.rev) pending.set(key, change);
    if (this.flushMs === 0) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.flushMs);
  }
}
