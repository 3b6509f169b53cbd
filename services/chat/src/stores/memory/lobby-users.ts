import { nameKey, type LobbyPage, type LobbyPageQuery } from "../types.js";
import { namePage } from "./lobby.js";
import type { MemoryPresenceStore } from "./presence.js";
import type { Revision } from "./revision.js";

/**
 * The lobby's half about people, from the process's presence store: who is online, by name. The
 * embedded lobbies share it (memory/lobby.ts, sqlite/lobby.ts); only their rooms differ.
 */
export class LobbyUsers {
  constructor(
    private readonly presence: MemoryPresenceStore,
    private readonly revision: Revision,
  ) {}

  /** The first `size` online users by name (the lobby's first page). */
  first(size: number): string[] {
    return this.presence.byName.slice(0, size).map((key) => this.presence.displayName(key) ?? key);
  }

  page(query: LobbyPageQuery): LobbyPage<string> {
    const rev = this.revision.current();
    const page = namePage(this.presence.byName, query);
    return { rev, next: page.next, items: page.keys.flatMap((key) => this.presence.displayName(key) ?? []) };
  }

  count(): number {
    return this.presence.byName.size;
  }

  onlineOf(usernames: string[]): { rev: number; online: string[] } {
    return { rev: this.revision.current(), online: usernames.flatMap((username) => this.presence.displayName(nameKey(username)) ?? []) };
  }
}
