import { compareNameKeys, type LobbyCounts, type RoomSummary } from "@sala/protocol";
import { type LobbyFirstPage, type LobbyPage, type LobbyPageQuery, type LobbyStore } from "../types.js";
import { LobbyUsers } from "./lobby-users.js";
import type { MemoryPresenceStore } from "./presence.js";
import type { Revision } from "./revision.js";
import type { MemoryRoomStore } from "./rooms.js";
import type { SortedList } from "./sorted-list.js";

/** The embedded lobby, read from the presence and room stores' sorted indexes. */
export class MemoryLobbyStore implements LobbyStore {
  private readonly users: LobbyUsers;

  constructor(
    presence: MemoryPresenceStore,
    private readonly rooms: MemoryRoomStore,
    private readonly revision: Revision,
  ) {
    this.users = new LobbyUsers(presence, revision);
  }

  async firstPage(size: number): Promise<LobbyFirstPage> {
    return {
      rev: this.revision.current(),
      counts: await this.counts(),
      users: this.users.first(size),
      rooms: await this.summaries(this.rooms.byActivity.slice(0, size).map((room) => room.id)),
    };
  }

  async userPage(query: LobbyPageQuery): Promise<LobbyPage<string>> {
    return this.users.page(query);
  }

  async roomPage(query: LobbyPageQuery): Promise<LobbyPage<RoomSummary>> {
    const rev = this.revision.current();
    const page = namePage(this.rooms.byName, query);
    return { rev, next: page.next, items: await this.summaries(page.keys.flatMap((key) => this.rooms.idByName(key) ?? [])) };
  }

  async counts(): Promise<LobbyCounts> {
    return { users: this.users.count(), rooms: this.rooms.count };
  }

  async onlineOf(usernames: string[]): Promise<{ rev: number; online: string[] }> {
    return this.users.onlineOf(usernames);
  }

  async rev(): Promise<number> {
    return this.revision.current();
  }

  private async summaries(ids: string[]): Promise<RoomSummary[]> {
    const rooms = await Promise.all(ids.map((id) => this.rooms.summary(id)));
    return rooms.filter((room): room is RoomSummary => room !== null);
  }
}

/** The keys of one page: those starting with `prefix`, after `after`, at most `limit`. */
export function namePage(index: SortedList<string>, { prefix, after, limit }: LobbyPageQuery): { keys: string[]; next: string | null } {
  let start = index.firstNotBefore(prefix);
  if (after !== null && compareNameKeys(after, prefix) >= 0) {
    start = index.firstNotBefore(after);
    if (index.at(start) === after) start++;
  }
  const keys: string[] = [];
  for (let at = start; keys.length <= limit; at++) {
    const key = index.at(at);
    if (key === undefined || !key.startsWith(prefix)) break;
    keys.push(key);
  }
  const more = keys.length > limit;
  if (more) keys.length = limit;
  return { keys, next: more ? (keys.at(-1) ?? null) : null };
}
