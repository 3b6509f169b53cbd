import type { LobbyCounts, RoomSummary } from "@sala/protocol";
import { type LobbyFirstPage, type LobbyPage, type LobbyPageQuery, type LobbyStore } from "../types.js";
import { LobbyUsers } from "../memory/lobby-users.js";
import type { MemoryPresenceStore } from "../memory/presence.js";
import type { Revision } from "../memory/revision.js";
import type { SqliteRoomStore } from "./rooms.js";

/** The lobby's reads of the rooms table: SqliteRoomStore's, answered by the store thread (thread/). */
export type LobbyRooms = { [K in "mostActive" | "pageByName" | "count"]: (...args: Parameters<SqliteRoomStore[K]>) => Promise<ReturnType<SqliteRoomStore[K]>> };

/**
 * The embedded lobby over SQLite: rooms from the rooms table's indexes (by name key, by activity,
 * the trigger-kept count; stores/sqlite/room-tables.ts), users from the memory presence store —
 * presence is live, per-process state, and after a restart nobody is online.
 */
export class SqliteLobbyStore implements LobbyStore {
  private readonly users: LobbyUsers;

  constructor(
    presence: MemoryPresenceStore,
    private readonly rooms: LobbyRooms,
    private readonly revision: Revision,
  ) {
    this.users = new LobbyUsers(presence, revision);
  }

  async firstPage(size: number): Promise<LobbyFirstPage> {
    return {
      rev: this.revision.current(),
      counts: await this.counts(),
      users: this.users.first(size),
      rooms: await this.rooms.mostActive(size),
    };
  }

  async userPage(query: LobbyPageQuery): Promise<LobbyPage<string>> {
    return this.users.page(query);
  }

  async roomPage(query: LobbyPageQuery): Promise<LobbyPage<RoomSummary>> {
    const rev = this.revision.current();
    return { rev, ...(await this.rooms.pageByName(query)) };
  }

  async counts(): Promise<LobbyCounts> {
    return { users: this.users.count(), rooms: await this.rooms.count() };
  }

  async onlineOf(usernames: string[]): Promise<{ rev: number; online: string[] }> {
    return this.users.onlineOf(usernames);
  }

  async rev(): Promise<number> {
    return this.revision.current();
  }
}
