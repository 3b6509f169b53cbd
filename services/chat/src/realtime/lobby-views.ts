import { LobbyLimits, nameKey, type LobbySnapshot, type RoomPage, type UserPage } from "@sala/protocol";
import type { LobbyPagePayload } from "@sala/protocol/schemas";
import type { ConversationStore, LobbyFirstPage, LobbyPageQuery, LobbyStore, RoomStore } from "../stores/types.js";
import { fitSnapshot } from "./snapshot-budget.js";
import { SocketFollows } from "./socket-follows.js";
import type { SalaSocket } from "./types.js";

export interface LobbyViewDeps {
  lobby: LobbyStore;
  rooms: Pick<RoomStore, "roomsOf" | "summaries">;
  conversations: Pick<ConversationStore, "partners">;
  /** Resolves once this node's pending channel subscriptions took effect (socket-server.ts). */
  subscriptionsApplied: () => Promise<void>;
  /** Users, and rooms, on the lobby's first page (LOBBY_PAGE_SIZE). */
  pageSize: number;
  /**
   * The first page this node's lobby sockets hold (FirstPageTicker.current): snapshots start from
   * it; read again first when it is older than `since`, if the node's lobby budget allows.
   */
  firstPage: (since: number) => Promise<LobbyFirstPage>;
}

/**
 * What one socket sees of the lobby: its snapshot (the first page every lobby socket of the node
 * shares, and its own partners and rooms), the pages it asks for, and what it
 * follows (socket-follows.ts). Nothing here reads more than a page.
 *
 * A socket follows a user or room before the state it is shown is read: when that join made its
 * node subscribe to a new channel, the state is read (again) once the subscription took effect, so
 * that no change falls between what the socket is shown and what it is sent.
 */
export class LobbyViews {
  private readonly follows = new WeakMap<SalaSocket, SocketFollows>();

  constructor(private readonly deps: LobbyViewDeps) {}

  /**
   * The socket's snapshot. It follows its latest conversation partners and its user's rooms from
   * now on; its pages are no longer followed (the snapshot starts its view over).
   */
  async snapshot(socket: SalaSocket): Promise<LobbySnapshot> {
    // What happened before now (the user's own presence among it) is on the page, when it can be.
    const asOf = Date.now();
    const follows = this.followsOf(socket);
    follows.view += 1;
    const { username } = socket.data;
    const [partnerKeys, roomIds] = await Promise.all([
      this.deps.conversations.partners(username, LobbyLimits.partnersMax),
      this.deps.rooms.roomsOf(username, LobbyLimits.ownRoomsMax),
    ]);
    follows.setPage("users", [], true);
    follows.setPage("rooms", [], true);
    const joined = [follows.addPartners(partnerKeys), follows.addOwnRooms(roomIds)].some(Boolean);
    if (joined) await this.deps.subscriptionsApplied();
    // One after the other, so that each part is at least as new as the revision it is labelled
    // with: the first page (its tick's revision), then the revision and the partners (one read),
    // then the own rooms (read after that revision). A client applies later changes over them.
    const first = await this.deps.firstPage(asOf);
    const partners = await this.deps.lobby.onlineOf(partnerKeys);
    const myRooms = await this.deps.rooms.summaries(roomIds);
    const snapshot = {
      counts: first.counts,
      users: first.users,
      partners: partners.online,
      rooms: first.rooms,
      myRooms,
      rev: first.rev,
      followRev: partners.rev,
      pageSize: this.deps.pageSize,
    };
    return fitSnapshot(snapshot, first, LobbyLimits.snapshotBytesMax);
  }

  async userPage(socket: SalaSocket, payload: LobbyPagePayload): Promise<UserPage> {
    const query = pageQuery(payload);
    const follows = this.followsOf(socket);
    const view = query.after === null ? ++follows.view : follows.view;
    const page = await this.deps.lobby.userPage(query);
    const answer = { users: page.items, next: page.next, rev: page.rev };
    if (follows.view !== view || !follows.setPage("users", page.items.map(nameKey), query.after === null)) return answer;
    await this.deps.subscriptionsApplied();
    const now = await this.deps.lobby.onlineOf(page.items);
    return { ...answer, users: now.online, rev: now.rev };
  }

  async roomPage(socket: SalaSocket, payload: LobbyPagePayload): Promise<RoomPage> {
    const query = pageQuery(payload);
    const follows = this.followsOf(socket);
    const view = query.after === null ? ++follows.view : follows.view;
    const page = await this.deps.lobby.roomPage(query);
    const answer = { rooms: page.items, next: page.next, rev: page.rev };
    const ids = page.items.map((room) => room.id);
    if (follows.view !== view || !follows.setPage("rooms", ids, query.after === null)) return answer;
    await this.deps.subscriptionsApplied();
    const rev = await this.deps.lobby.rev();
    return { ...answer, rooms: await this.deps.rooms.summaries(ids), rev };
  }

  /** The socket follows this partner's presence from now on (a conversation it opened). */
  followPartner(socket: SalaSocket, partner: string): void {
    this.followsOf(socket).addPartners([partner]);
  }

  /** The socket follows this room of its user's from now on (it joined it). */
  followOwnRoom(socket: SalaSocket, roomId: string): void {
    this.followsOf(socket).addOwnRooms([roomId]);
  }

  /** Its user left the room. */
  unfollowOwnRoom(socket: SalaSocket, roomId: string): void {
    this.follows.get(socket)?.removeOwnRoom(roomId);
  }

  private followsOf(socket: SalaSocket): SocketFollows {
    let follows = this.follows.get(socket);
    if (!follows) this.follows.set(socket, (follows = new SocketFollows(socket)));
    return follows;
  }
}

/** The payload as a store query: names folded as the indexes hold them. */
function pageQuery(payload: LobbyPagePayload): LobbyPageQuery {
  const after = payload.after === undefined ? null : nameKey(payload.after);
  return { prefix: nameKey(payload.prefix ?? ""), after, limit: payload.limit ?? LobbyLimits.pageMax };
}
