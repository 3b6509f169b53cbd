import { LobbyLimits, nameKey } from "@sala/protocol";
import { SocketRooms, type SalaSocket } from "./types.js";

/**
 * Partners and rooms of the user's that one socket follows at most, besides its pages: without a
 * cap, a script opening conversations with everyone (or joining every room in turn) would make its
 * node subscribe to a channel per user (or room) of the whole lobby.
 */
export const FOLLOWED_PARTNERS_MAX = 100;
export const FOLLOWED_OWN_ROOMS_MAX = 100;

/** The pages of a socket that shows none (its snapshot starts over with none), shared by all. */
const NONE: readonly string[] = Object.freeze([]);

/**
 * Which users and rooms one socket follows in the lobby, as Socket.IO rooms (SocketRooms.presenceOf,
 * lobbyRoom; lobby-feed.ts sends each change to its room): its conversation partners and its user's
 * rooms, and the users and rooms of the pages it asked for since its last search. A Socket.IO room is
 * left only once nothing keeps it: a partner who was also on a page stays followed after a search.
 */
export class SocketFollows {
  /**
   * Name keys; a Set keeps insertion order, so the first is the one followed longest. Each is made
   * when the socket first follows one: an idle socket of a new user follows none, and an empty Set
   * costs about 180 bytes (memory per idle socket, issue 19).
   */
  private partners: Set<string> | null = null;
  private ownRooms: Set<string> | null = null;
  private pagedUsers: readonly string[] = NONE;
  private pagedRooms: readonly string[] = NONE;
  /**
   * Bumped as each request that starts the view over arrives (a snapshot, a page without `after`):
   * an older request that answers later must not replace what a newer one follows.
   */
  view = 0;

  constructor(private readonly socket: SalaSocket) {}

  /** → whether the socket joined a Socket.IO room it was not in (its node may still be subscribing). */
  addPartners(usernames: string[]): boolean {
    if (usernames.length === 0) return false;
    return this.addCapped((this.partners ??= new Set()), usernames.map(nameKey), FOLLOWED_PARTNERS_MAX, "users");
  }

  addOwnRooms(roomIds: string[]): boolean {
    if (roomIds.length === 0) return false;
    return this.addCapped((this.ownRooms ??= new Set()), roomIds, FOLLOWED_OWN_ROOMS_MAX, "rooms");
  }

  /** The user left the room: it is followed only while on a page. */
  removeOwnRoom(roomId: string): void {
    if (this.ownRooms?.delete(roomId)) this.leaveUnlessKept("rooms", roomId);
  }

  /**
   * The socket shows these users (name keys) or rooms now: `fresh` replaces what its pages showed,
   * else they add to it, up to LobbyLimits.watchMax (the earliest let go first). → joined a new room.
   */
  setPage(kind: "users" | "rooms", names: string[], fresh: boolean): boolean {
    const before = kind === "users" ? this.pagedUsers : this.pagedRooms;
    const after = fresh ? (names.length === 0 ? NONE : [...new Set(names)]) : [...new Set([...before, ...names])].slice(-LobbyLimits.watchMax);
    if (kind === "users") this.pagedUsers = after;
    else this.pagedRooms = after;
    const kept = new Set(after);
    for (const name of before) if (!kept.has(name)) this.leaveUnlessKept(kind, name);
    return this.join(kind, after);
  }

  private addCapped(set: Set<string>, names: string[], max: number, kind: "users" | "rooms"): boolean {
    for (const name of names) {
      set.delete(name); // re-added last: the most recent
      set.add(name);
    }
    for (const oldest of set) {
      if (set.size <= max) break;
      set.delete(oldest);
      this.leaveUnlessKept(kind, oldest);
    }
    return this.join(kind, names.filter((name) => set.has(name)));
  }

  private join(kind: "users" | "rooms", names: readonly string[]): boolean {
    const rooms = names.map(kind === "users" ? SocketRooms.presenceOf : SocketRooms.lobbyRoom).filter((room) => !this.socket.rooms.has(room));
    if (rooms.length > 0) void this.socket.join(rooms);
    return rooms.length > 0;
  }

  private leaveUnlessKept(kind: "users" | "rooms", name: string): void {
    const kept = kind === "users" ? this.partners?.has(name) || this.pagedUsers.includes(name) : this.ownRooms?.has(name) || this.pagedRooms.includes(name);
    if (!kept) void this.socket.leave(kind === "users" ? SocketRooms.presenceOf(name) : SocketRooms.lobbyRoom(name));
  }
}
