import type { LobbyCounts, RoomSummary } from "@sala/protocol";
import { nameKey, type LobbyFirstPage, type LobbyPage, type LobbyPageQuery, type LobbyStore } from "../types.js";
import { namePage } from "../memory/lobby.js";
import type { MemoryPresenceStore } from "../memory/presence.js";
import type { Revision } from "../memory/revision.js";
import type { SqliteRoomStore } from "./rooms.js";

/**
 * The embedded lobby over SQLite: rooms from the rooms table's indexes (by name key, by activity,
 * the trigger-kept count; stores/sqlite/room-tables.ts), users from the memory presence store —
 * presence is live, per-process state, and after a restart nobody is online.
 */
export class SqliteLobbyStore implements LobbyStore {
  constructor(
    private readonly presence: MemoryPresenceStore,
    private readonly rooms: SqliteRoomStore,
    private readonly revision: Revision,
  ) {}

  async firstPage(size: number): Promise<LobbyFirstPage> {
    return {
      rev: this.revision.current(),
      counts: await this.counts(),
      users: this.presence.byName.slice(0, size).map((key) => this.presence.displayName(key) ?? key),
      rooms: this.rooms.mostActive(size),
    };
  }

  async userPage(query: LobbyPageQuery): Promise<LobbyPage<string>> {
    const rev = this.revision.current();
    const page = namePage(this.presence.byName, query);
    return { rev, next: page.next, items: page.keys.flatMap((key) => this.presence.displayName(key) ?? []) };
  }

  async roomPage(query: LobbyPageQuery): Promise<LobbyPage<RoomSummary>> {
    const rev = this.revision.current();
    return { rev, ...this.rooms.pageByName(query) };
  }

  async counts(): Promise<LobbyCounts> {
    return { users: this.presence.byName.size, rooms: this.rooms.count() };
  }

  async onlineOf(usernames: string[]): Promise<{ rev: number; online: string[] }> {
    return { rev: this.revision.current(), online: usernames.flatMap((username) => this.presence.displayName(nameKey(username)) ?? []) };
  }

  async rev(): Promise<number> {
    return this.revision.current();
  }
}
