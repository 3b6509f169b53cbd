import { compareNameKeys, nameKey, type PresenceChange, type RoomChange, type RoomSummary } from "@sala/protocol";
import type { LobbyFirstPage } from "../stores/types.js";

/** What a client must be told to turn the first page `before` into `after` (both read whole, atomically). */
export interface FirstPageChanges {
  presence: PresenceChange[];
  /** Rooms that came onto the page, or whose summary changed on it. */
  rooms: RoomChange[];
  /**
   * Rooms that left the page: removed, or pushed off by busier rooms, or fewer members now. Only the
   * store can tell which (and give the new count), so the caller asks it.
   */
  roomsOff: string[];
}

/**
 * The first page's changes between two reads, for clients that hold `before` (LobbyState): they
 * keep only a first page, trimming what falls past `pageSize` in the lobby's order, so
 * - a user who came onto the page is sent as online;
 * - a user who left it is sent as offline only when they would sort within the page now (`after`
 *   is the start of the name order: anyone online before its last name is on it); one who sorts
 *   after its end was pushed off, or is no longer shown anyway, and the client's trim drops them;
 * - a room that came onto the page, or whose count changed on it, is sent whole; a room that left
 *   is left to the caller (roomsOff), as a room still in the lobby comes with its new count.
 * Every change carries `after.rev`, the revision the page was read at.
 */
export function firstPageChanges(before: LobbyFirstPage, after: LobbyFirstPage, pageSize: number): FirstPageChanges {
  const rev = after.rev;
  const presence: PresenceChange[] = [];
  const beforeUsers = new Set(before.users.map(nameKey));
  const afterUsers = new Set(after.users.map(nameKey));
  for (const username of after.users) if (!beforeUsers.has(nameKey(username))) presence.push({ username, online: true, rev });
  const last = after.users.at(-1);
  const pageFull = after.users.length >= pageSize && last !== undefined;
  for (const username of before.users) {
    const key = nameKey(username);
    if (afterUsers.has(key)) continue;
    if (!pageFull || compareNameKeys(key, nameKey(last)) < 0) presence.push({ username, online: false, rev });
  }

  const rooms: RoomChange[] = [];
  const beforeRooms = new Map(before.rooms.map((room) => [room.id, room]));
  const afterRooms = new Set(after.rooms.map((room) => room.id));
  for (const room of after.rooms) {
    const known = beforeRooms.get(room.id);
    if (!known || !sameSummary(known, room)) rooms.push({ room, rev });
  }
  const roomsOff = before.rooms.filter((room) => !afterRooms.has(room.id)).map((room) => room.id);
  return { presence, rooms, roomsOff };
}

function sameSummary(a: RoomSummary, b: RoomSummary): boolean {
  return a.memberCount === b.memberCount && a.name === b.name && a.isPrivate === b.isPrivate && a.owner === b.owner;
}
