/**
 * The lobby as the page shows it: counts, who is online, the rooms; a search box and a "more"
 * button per list. The server never sends the whole lobby (LobbyLimits): a first page, then the
 * pages this asks for with `lobby_users` / `lobby_rooms`. LobbyState (protocol) keeps what is
 * known current; this adds what the page needs on top of it:
 * - the user's online conversation partners, first and marked, and the rooms they are a member
 *   of, first and marked: kept here, because a new search lets go of LobbyState's page pins;
 * - which rooms were paged in, to show them after the first page (by activity) in the order they
 *   came (by name);
 * - searches: what is known filters at once, the server is asked after a pause, and an answer to
 *   an older question is dropped.
 */
import {
  LobbyState,
  byActivity,
  byName,
  nameKey,
  sameName,
  type Ack,
  type LobbyCounts,
  type LobbyCountsUpdate,
  type LobbyPagePayload,
  type LobbySnapshot,
  type LobbyUpdate,
  type RoomPage,
  type RoomSummary,
  type UserPage,
} from "@sala/protocol";
import { describeError } from "./errors.js";

/** How long typing pauses before the server is asked. */
export const SEARCH_DELAY_MS = 200;
/**
 * Pages one "more" reads at most when those it got were all on screen already (the first page of
 * rooms is the most active, pages come by name, so the first ones may hold nothing new).
 */
const MORE_PAGES_MAX = 3;

/** The two lobby requests, as the chat's connection makes them. */
export interface LobbyRequests {
  users(payload: LobbyPagePayload): Promise<Ack<UserPage>>;
  rooms(payload: LobbyPagePayload): Promise<Ack<RoomPage>>;
}

/** One list's search and paging: what was typed, what the server answered for, and the request under way. */
class ListQuery {
  /** What the box holds. */
  text = $state("");
  /** The prefix the shown pages answer (trimmed); the box may be ahead of it. */
  answered = $state("");
  loading = $state(false);
  error = $state<string | null>(null);
  /** Counts requests: an answer to an older one is dropped. */
  ticket = 0;
  timer: ReturnType<typeof setTimeout> | undefined;

  prefix(): string {
    return this.text.trim();
  }

  /** The shown list answers what the box holds, and nothing is under way. */
  settled(): boolean {
    return !this.loading && sameName(this.prefix(), this.answered);
  }

  /** Forgets the request under way (its answer will be dropped). */
  cancel(): void {
    clearTimeout(this.timer);
    this.ticket += 1;
    this.loading = false;
  }
}

export class Lobby {
  /** Online users to show: the conversation partners first (`partners`), then by name. */
  users = $state<string[]>([]);
  partners = $state<string[]>([]);
  /** Rooms to show: the user's own first (`mine`: their ids), then the most active, then those paged in. */
  rooms = $state<RoomSummary[]>([]);
  mine = $state<string[]>([]);
  counts = $state<LobbyCounts>({ users: 0, rooms: 0 });
  /**
   * How many users are online, and rooms exist: the lists' own length when they hold everything
   * (live), else the server's counts (sent every few seconds).
   */
  userTotal = $state(0);
  roomTotal = $state(0);
  /** Whether there is more to fetch (the button shows). */
  moreUsers = $state(false);
  moreRooms = $state(false);
  readonly userSearch = new ListQuery();
  readonly roomSearch = new ListQuery();

  private readonly state = new LobbyState();
  private pageSize = Number.POSITIVE_INFINITY;
  private snapshotRev = 0;
  /** The highest revision heard: what a room joined now is at least as new as. */
  private latestRev = 0;
  /** Name keys of the user's conversation partners (online or not). */
  private readonly partnerKeys = new Set<string>();
  /** Partners' presence as last heard, by name key (absent: offline), and the connection it came on. */
  private readonly partnerPresence = new Map<string, { username: string; online: boolean; rev: number; connection: number }>();
  /** Which connection this is: what earlier ones said is replaced by the next snapshot. */
  private connection = 0;
  /** The rooms the user is a member of, by id. */
  private myRooms = new Map<string, { room: RoomSummary; rev: number }>();
  /** Where the next page of users starts (null: none). */
  private userCursor: string | null = null;
  /** Rooms of the pages asked for since the last fresh one, in the order they came. */
  private pagedRooms: string[] = [];
  /** Whether room pages were asked for since the snapshot (or the search was cleared). */
  private roomPaging = false;

  constructor(
    private readonly me: string,
    private readonly requests: LobbyRequests,
  ) {}

  close(): void {
    this.userSearch.cancel();
    this.roomSearch.cancel();
  }

  // ---- what the server sends --------------------------------------------------------------

  /** The socket disconnected: the next snapshot replaces what this connection heard (LobbyState.connectionLost). */
  connectionLost(): void {
    this.state.connectionLost();
    this.connection += 1;
    this.snapshotRev = 0;
  }

  /** A new snapshot: the server followed nothing of what was asked before, so searches are asked again. */
  applySnapshot(snapshot: LobbySnapshot): void {
    this.state.applySnapshot(snapshot);
    this.pageSize = snapshot.pageSize;
    this.snapshotRev = snapshot.rev;
    // Partners and own rooms are read after the first page: as of followRev.
    const followRev = Math.max(snapshot.rev, snapshot.followRev ?? 0);
    this.latestRev = Math.max(this.latestRev, followRev);
    for (const [key, entry] of this.partnerPresence) {
      if (entry.rev <= followRev || entry.connection < this.connection) this.partnerPresence.delete(key);
    }
    // The server now follows the snapshot's partners (and those of this connection from here on).
    this.partnerKeys.clear();
    for (const username of snapshot.partners) {
      const key = nameKey(username);
      this.partnerKeys.add(key);
      if (!this.partnerPresence.has(key)) this.partnerPresence.set(key, { username, online: true, rev: followRev, connection: this.connection });
    }
    this.myRooms = new Map(snapshot.myRooms.map((room) => [room.id, { room, rev: followRev }]));
    this.pagedRooms = [];
    this.roomPaging = false;
    for (const search of [this.userSearch, this.roomSearch]) {
      search.cancel();
      search.answered = "";
    }
    this.refresh();
    if (this.userSearch.prefix()) void this.fetchUsers(this.userSearch.prefix(), null);
    if (this.roomSearch.prefix()) void this.fetchRooms(this.roomSearch.prefix(), null);
  }

  applyUpdate(update: LobbyUpdate): void {
    this.state.applyUpdate(update);
    const listed = new Set(this.state.onlineUsers().map(nameKey));
    for (const change of update.presence) {
      this.latestRev = Math.max(this.latestRev, change.rev);
      const key = nameKey(change.username);
      // Past the first page and on no page asked for: the server sends it because it follows a
      // partner of ours (one of the latest, offline at the snapshot) for this socket.
      if (change.online && !listed.has(key) && !sameName(change.username, this.me)) this.partnerKeys.add(key);
      if (!this.partnerKeys.has(key) || change.rev <= this.snapshotRev) continue;
      const heard = this.partnerPresence.get(key);
      const heardRev = heard && heard.connection === this.connection ? heard.rev : 0;
      if (change.rev > heardRev) this.partnerPresence.set(key, { ...change, connection: this.connection });
    }
    for (const change of update.rooms) {
      this.latestRev = Math.max(this.latestRev, change.rev);
      const id = "removed" in change ? change.removed : change.room.id;
      const mine = this.myRooms.get(id);
      if (!mine || change.rev <= mine.rev) continue;
      if ("removed" in change) this.myRooms.delete(id);
      else this.myRooms.set(id, { room: change.room, rev: change.rev });
    }
    this.refresh();
  }

  applyCounts(counts: LobbyCountsUpdate): void {
    this.state.applyCounts(counts);
    this.refresh();
  }

  // ---- what the user does -------------------------------------------------------------------

  /** The users' search box changed: filter what is known now, ask the server after a pause. */
  searchUsers(text: string): void {
    const search = this.userSearch;
    search.text = text;
    search.error = null;
    clearTimeout(search.timer);
    this.refresh();
    if (search.settled()) return;
    const prefix = search.prefix();
    // Cleared, too, is asked: it starts the view over at the first page (and lets the search's users go).
    search.timer = setTimeout(() => void this.fetchUsers(prefix, null), SEARCH_DELAY_MS);
  }

  /** The rooms' search box changed; cleared, the lobby's own first page shows again, at once. */
  searchRooms(text: string): void {
    const search = this.roomSearch;
    search.text = text;
    search.error = null;
    clearTimeout(search.timer);
    if (search.prefix() === "") {
      search.cancel();
      search.answered = "";
      this.pagedRooms = [];
      this.roomPaging = false;
    } else if (!search.settled()) {
      const prefix = search.prefix();
      search.timer = setTimeout(() => void this.fetchRooms(prefix, null), SEARCH_DELAY_MS);
    }
    this.refresh();
  }

  /** The next page of users (by name, after the last one shown). */
  async loadMoreUsers(): Promise<void> {
    const after = this.userCursor;
    if (!this.userSearch.settled() || after === null) return;
    await this.fetchUsers(this.userSearch.answered, after);
  }

  /**
   * The next page of rooms by name: the first one (the lobby shows the most active until then),
   * or the one after the last page. Pages whose rooms were all on screen already are skipped.
   */
  async loadMoreRooms(): Promise<void> {
    for (let page = 0; page < MORE_PAGES_MAX; page++) {
      if (!this.roomSearch.settled()) return;
      const after = this.roomPaging ? this.state.roomsNext : null;
      if (this.roomPaging && after === null) return;
      const shown = this.rooms.length;
      if (!(await this.fetchRooms(this.roomSearch.answered, after)) || this.rooms.length > shown) return;
    }
  }

  /** The user is now a member of the room (joined or created it). */
  joined(room: RoomSummary): void {
    this.myRooms.set(room.id, { room, rev: this.latestRev });
    this.refresh();
  }

  /** The user is no longer a member (left, was removed, the room is gone). */
  left(roomId: string): void {
    if (this.myRooms.delete(roomId)) this.refresh();
  }

  /** These users are conversation partners: shown first when online (as the server follows them). */
  addPartners(usernames: string[]): void {
    const before = this.partnerKeys.size;
    for (const username of usernames) if (!sameName(username, this.me)) this.partnerKeys.add(nameKey(username));
    if (this.partnerKeys.size !== before) this.refresh();
  }

  // ---- pages --------------------------------------------------------------------------------

  private async fetchUsers(prefix: string, after: string | null): Promise<boolean> {
    const answer = await this.ask(this.userSearch, () => this.requests.users(pagePayload(prefix, after)));
    if (!answer) return false;
    this.state.applyUserPage(answer, after === null, prefix);
    this.pageArrived(this.userSearch, prefix, answer.rev);
    return true;
  }

  private async fetchRooms(prefix: string, after: string | null): Promise<boolean> {
    const answer = await this.ask(this.roomSearch, () => this.requests.rooms(pagePayload(prefix, after)));
    if (!answer) return false;
    this.state.applyRoomPage(answer, after === null);
    for (const room of answer.rooms) {
      const mine = this.myRooms.get(room.id);
      if (mine && answer.rev >= mine.rev) this.myRooms.set(room.id, { room, rev: answer.rev });
    }
    if (after === null) this.pagedRooms = [];
    this.pagedRooms.push(...answer.rooms.map((room) => room.id));
    this.roomPaging = true;
    this.pageArrived(this.roomSearch, prefix, answer.rev);
    return true;
  }

  /**
   * One page request of a list: its answer, or null when it failed (the error is shown) or a newer
   * request of the same list was made meanwhile (this answer is dropped).
   */
  private async ask<T extends object>(search: ListQuery, request: () => Promise<Ack<T>>): Promise<T | null> {
    const ticket = ++search.ticket;
    search.loading = true;
    this.refresh();
    const answer = await request();
    if (ticket !== search.ticket) return null;
    search.loading = false;
    if (answer.ok) return answer;
    search.error = describeError(answer.error);
    this.refresh();
    return null;
  }

  private pageArrived(search: ListQuery, prefix: string, rev: number): void {
    this.latestRev = Math.max(this.latestRev, rev);
    search.answered = prefix;
    this.refresh();
  }

  // ---- what shows -----------------------------------------------------------------------------

  private refresh(): void {
    this.counts = this.state.counts();
    this.refreshUsers();
    this.refreshRooms();
  }

  private refreshUsers(): void {
    const prefix = nameKey(this.userSearch.prefix());
    const known = this.state.onlineUsers(prefix);
    const partners = new Map<string, string>();
    for (const [key, entry] of this.partnerPresence) if (entry.online && key.startsWith(prefix)) partners.set(key, entry.username);
    for (const username of known) if (this.partnerKeys.has(nameKey(username))) partners.set(nameKey(username), username);
    partners.delete(nameKey(this.me));
    const first = [...partners.values()].sort(byName);
    const rest = known.filter((username) => !partners.has(nameKey(username)));
    // The user is online, whether or not their name falls on a page shown.
    if (nameKey(this.me).startsWith(prefix) && !rest.some((username) => sameName(username, this.me))) rest.unshift(this.me);
    this.partners = first;
    this.users = [...first, ...rest];
    this.userCursor = this.usersCursor(known);
    this.moreUsers = this.userSearch.settled() && this.userCursor !== null;
    const whole = prefix === "" && this.userSearch.answered === "" && this.userCursor === null;
    this.userTotal = whole ? this.users.length : this.counts.users;
  }

  /**
   * Where the next page of users starts: where the last page ended (LobbyState's cursor), unless
   * users came online before it since. The first page's last users were then let go (the server
   * no longer sends their changes), and the next page starts after the last one still listed, or
   * they would never show. Partners are left out: they are listed wherever their names fall.
   */
  private usersCursor(known: string[]): string | null {
    const next = this.state.usersNext;
    const last = known.map(nameKey).filter((key) => !this.partnerKeys.has(key)).at(-1) ?? null;
    if (next !== null) return last !== null && last < next ? last : next;
    // Every user was listed; then more came online than the first page holds.
    const browsing = this.userSearch.prefix() === "" && this.userSearch.answered === "";
    return browsing && last !== null && this.counts.users > this.users.length ? last : null;
  }

  private refreshRooms(): void {
    const prefix = nameKey(this.roomSearch.prefix());
    const matches = (room: RoomSummary) => nameKey(room.name).startsWith(prefix);
    const mine = [...this.myRooms.values()].map((entry) => entry.room).filter(matches).sort(byActivity);
    let others: RoomSummary[];
    if (prefix === "") {
      const paged = this.pagedRooms.flatMap((id) => this.state.room(id) ?? []);
      others = [...this.state.roomList().slice(0, this.pageSize), ...paged];
    } else {
      others = this.state.roomList(prefix).sort((a, b) => byName(a.name, b.name));
    }
    const shown = new Set(mine.map((room) => room.id));
    const rest = others.filter((room) => !shown.has(room.id) && shown.add(room.id));
    this.mine = mine.map((room) => room.id);
    this.rooms = [...mine, ...rest];
    // Until pages are asked for, the lobby's first page holds every room when it is not full.
    const firstPageFull = this.state.roomList().length >= this.pageSize;
    const more = this.roomPaging ? this.state.roomsNext !== null : firstPageFull && this.counts.rooms > this.rooms.length;
    this.moreRooms = this.roomSearch.settled() && more;
    // Every room is on screen when the first page was not full, or the pages reached the end.
    const whole = prefix === "" && !more && (this.roomPaging || !firstPageFull);
    this.roomTotal = whole ? this.rooms.length : this.counts.rooms;
  }
}

function pagePayload(prefix: string, after: string | null): LobbyPagePayload {
  return { ...(prefix ? { prefix } : {}), ...(after !== null ? { after } : {}) };
}
