import { LobbyLimits, nameKey, type LobbySnapshot, type RoomPage, type RoomSummary, type UserPage } from "@sala/protocol";
import type { LobbyPagePayload } from "@sala/protocol/schemas";
import type { ConversationStore, LobbyFirstPage, LobbyPageQuery, LobbyStore, RoomStore } from "../stores/types.js";
import { sharedRead } from "./shared-read.js";
import { SocketRooms, type SalaSocket } from "./types.js";

export interface LobbyViewDeps {
  lobby: LobbyStore;
  rooms: Pick<RoomStore, "roomsOf" | "summaries">;
  conversations: Pick<ConversationStore, "partners">;
  /** Users, and rooms, on the lobby's first page (LOBBY_PAGE_SIZE). */
  pageSize: number;
  /** Handshakes arriving together share one read of the first page, at most one per this many ms. */
  readSpacingMs: number;
}

/** Which users and rooms one socket follows: its partners and rooms, and those of its pages since its last search. */
interface Following {
  /** Name keys of its conversation partners (followed for as long as the socket lives). */
  partners: Set<string>;
  /** Ids of the user's rooms it was told of (followed for as long as the socket lives). */
  ownRooms: Set<string>;
  users: string[];
  rooms: string[];
}

/**
 * What one socket sees of the lobby: its snapshot (the first page every socket shares, read once
 * for a burst of handshakes, and its own partners and rooms), the pages it asks for, and the
 * Socket.IO rooms through which it is sent the changes of what it shows (lobby-feed.ts). Nothing
 * here reads more than a page.
 */
export class LobbyViews {
  private readonly firstPage: () => Promise<LobbyFirstPage>;
  /** Per socket that asked for pages; gone with the socket. */
  private readonly following = new WeakMap<SalaSocket, Following>();

  constructor(private readonly deps: LobbyViewDeps) {
    this.firstPage = sharedRead(() => deps.lobby.firstPage(deps.pageSize), deps.readSpacingMs);
  }

  /**
   * The socket's snapshot. It follows its conversation partners' presence and its user's rooms from
   * now on; the pages it followed are dropped (the snapshot starts its view over).
   */
  async snapshot(socket: SalaSocket): Promise<LobbySnapshot> {
    const { username } = socket.data;
    const [first, partners, myRooms] = await Promise.all([this.firstPage(), this.partners(username), this.myRooms(username)]);
    this.followPartners(socket, partners);
    this.followOwnRooms(socket, myRooms.map((room) => room.id));
    this.follow(socket, "users", [], true);
    this.follow(socket, "rooms", [], true);
    return {
      counts: first.counts,
      users: first.users,
      partners: await this.deps.lobby.onlineOf(partners),
      rooms: first.rooms,
      myRooms,
      rev: first.rev,
      pageSize: this.deps.pageSize,
    };
  }

  async userPage(socket: SalaSocket, payload: LobbyPagePayload): Promise<UserPage> {
    const query = pageQuery(payload);
    const page = await this.deps.lobby.userPage(query);
    this.follow(socket, "users", page.items, query.after === null);
    return { users: page.items, next: page.next, rev: page.rev };
  }

  async roomPage(socket: SalaSocket, payload: LobbyPagePayload): Promise<RoomPage> {
    const query = pageQuery(payload);
    const page = await this.deps.lobby.roomPage(query);
    this.follow(
      socket,
      "rooms",
      page.items.map((room) => room.id),
      query.after === null,
    );
    return { rooms: page.items, next: page.next, rev: page.rev };
  }

  /** The name keys of the user's latest conversation partners. */
  private partners(username: string): Promise<string[]> {
    return this.deps.conversations.partners(username, LobbyLimits.partnersMax);
  }

  private async myRooms(username: string): Promise<RoomSummary[]> {
    return this.deps.rooms.summaries((await this.deps.rooms.roomsOf(username)).slice(0, LobbyLimits.ownRoomsMax));
  }

  /** The socket follows these partners' presence (besides those it followed already). */
  followPartners(socket: SalaSocket, partners: string[]): void {
    if (partners.length === 0) return;
    const following = this.followingOf(socket);
    for (const partner of partners) following.partners.add(nameKey(partner));
    void socket.join(partners.map(SocketRooms.presenceOf));
  }

  /** The socket follows these rooms of the user's (besides those it followed already). */
  followOwnRooms(socket: SalaSocket, roomIds: string[]): void {
    if (roomIds.length === 0) return;
    const following = this.followingOf(socket);
    for (const id of roomIds) following.ownRooms.add(id);
    void socket.join(roomIds.map(SocketRooms.lobbyRoom));
  }

  /**
   * The socket follows these users (or room ids) too; `fresh` drops what it followed before. At
   * most LobbyLimits.watchMax are followed: beyond, the earliest are let go. A partner, or a room of
   * the user's, is never let go.
   */
  private follow(socket: SalaSocket, kind: "users" | "rooms", names: string[], fresh: boolean): void {
    const following = this.following.get(socket);
    if (!following && names.length === 0) return;
    const current = following ?? this.followingOf(socket);
    const socketRoom = kind === "users" ? SocketRooms.presenceOf : SocketRooms.lobbyRoom;
    const before = current[kind];
    const after = fresh ? names : [...new Set([...before, ...names])].slice(-LobbyLimits.watchMax);
    const kept = new Set(after);
    const sticky = (name: string) => (kind === "users" ? current.partners.has(nameKey(name)) : current.ownRooms.has(name));
    for (const name of before) if (!kept.has(name) && !sticky(name)) void socket.leave(socketRoom(name));
    void socket.join(after.map(socketRoom));
    current[kind] = after;
  }

  private followingOf(socket: SalaSocket): Following {
    let following = this.following.get(socket);
    if (!following) this.following.set(socket, (following = { partners: new Set(), ownRooms: new Set(), users: [], rooms: [] }));
    return following;
  }
}

/** The payload as a store query: names folded as the indexes hold them. */
function pageQuery(payload: LobbyPagePayload): LobbyPageQuery {
  const after = payload.after === undefined ? null : nameKey(payload.after);
  return { prefix: nameKey(payload.prefix ?? ""), after, limit: payload.limit ?? LobbyLimits.pageMax };
}
