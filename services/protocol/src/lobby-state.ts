import type { LobbySnapshot, LobbyUpdate, RoomSummary } from "./events.js";

/**
 * The lobby as a client sees it: a snapshot, then `lobby_update` batches applied in revision
 * order. Updates from different nodes can arrive out of order; for each user and room only the
 * change with the highest revision counts, and changes already covered by the snapshot
 * (`rev <= snapshot.rev`) are ignored. Used by the web client and by tests.
 */
export class LobbyState {
  private snapshotRev = 0;
  private readonly users = new Map<string, { username: string; online: boolean; rev: number }>();
  private readonly rooms = new Map<string, { room: RoomSummary | null; rev: number }>();

  applySnapshot(snapshot: LobbySnapshot): void {
    this.snapshotRev = snapshot.rev;
    // Changes newer than the snapshot (an update can overtake it) stay; the rest is replaced.
    for (const [key, entry] of this.users) if (entry.rev <= snapshot.rev) this.users.delete(key);
    for (const [id, entry] of this.rooms) if (entry.rev <= snapshot.rev) this.rooms.delete(id);
    for (const username of snapshot.users) {
      const key = username.toLowerCase();
      if (!this.users.has(key)) this.users.set(key, { username, online: true, rev: snapshot.rev });
    }
    for (const room of snapshot.rooms) if (!this.rooms.has(room.id)) this.rooms.set(room.id, { room, rev: snapshot.rev });
  }

  applyUpdate(update: LobbyUpdate): void {
    for (const change of update.presence) {
      const key = change.username.toLowerCase();
      if (change.rev <= this.snapshotRev || change.rev <= (this.users.get(key)?.rev ?? 0)) continue;
      this.users.set(key, { username: change.username, online: change.online, rev: change.rev });
    }
    for (const change of update.rooms) {
      const id = "removed" in change ? change.removed : change.room.id;
      if (change.rev <= this.snapshotRev || change.rev <= (this.rooms.get(id)?.rev ?? 0)) continue;
      this.rooms.set(id, { room: "removed" in change ? null : change.room, rev: change.rev });
    }
  }

  /** Users online, sorted case-insensitively. */
  onlineUsers(): string[] {
    return [...this.users.values()]
      .filter((entry) => entry.online)
      .map((entry) => entry.username)
      .sort((a, b) => a.localeCompare(b, undefined, { sensitivity: "base" }));
  }

  /** Rooms, oldest first. */
  roomList(): RoomSummary[] {
    return [...this.rooms.values()]
      .flatMap((entry) => (entry.room ? [entry.room] : []))
      .sort((a, b) => a.createdAt - b.createdAt);
  }

  room(id: string): RoomSummary | undefined {
    return this.rooms.get(id)?.room ?? undefined;
  }
}
