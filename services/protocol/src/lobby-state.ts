import type { LobbyCounts, LobbyCountsUpdate, LobbySnapshot, LobbyUpdate, RoomPage, RoomSummary, UserPage } from "./events.js";
import { LobbyLimits } from "./limits.js";
import { compareNameKeys, nameKey } from "./names.js";

/**
 * The lobby's room order: most members first; ties by id, the greater first (the order of a Redis
 * sorted set read from the top, which the server's index is).
 */
export function byActivity(a: Pick<RoomSummary, "id" | "memberCount">, b: Pick<RoomSummary, "id" | "memberCount">): number {
  if (a.memberCount !== b.memberCount) return b.memberCount - a.memberCount;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

/** Names in the lobby's order: by nameKey, which is how the server pages and searches them. */
export function byName(a: string, b: string): number {
  return compareNameKeys(nameKey(a), nameKey(b));
}

/** Why an entry is kept whatever the first page does. */
interface Pins {
  /** A conversation partner, a room of the user's: until the next snapshot. */
  mine?: boolean;
  /** Fetched in a page: until the next search. */
  paged?: boolean;
}

interface Known<T> {
  value: T;
  rev: number;
  pins: Pins;
  /** The connection it was heard on (LobbyState.connectionLost counts them). */
  connection: number;
}

const pinned = (pins: Pins) => Boolean(pins.mine || pins.paged);

/**
 * The part of the lobby one client knows, kept current: the snapshot, then `lobby_update` batches
 * applied in revision order, and the pages it asked for.
 *
 * Updates from different nodes can arrive out of order; for each user and room only the change
 * with the highest revision counts, and changes already covered by the snapshot (`rev <=
 * snapshot.rev`) are ignored.
 *
 * The server sends a socket the changes of the lobby's first page (the first `pageSize` users in
 * name order, the `pageSize` most active rooms) and of what it pinned (pages it asked for, its
 * partners, its rooms). So what this state holds outside its pins must stay a first page: after
 * each change, entries that fell past `pageSize` in the lobby's order are dropped (they would get
 * no more changes, and would go stale). What it holds is then always the start of the true order.
 *
 * Used by the web client and by tests.
 */
export class LobbyState {
  private snapshotRev = 0;
  private pageSize = Number.POSITIVE_INFINITY;
  /** nameKey → the user (online or not, as last heard). */
  private readonly users = new Map<string, Known<{ username: string; online: boolean }>>();
  /** id → the room (null: removed). */
  private readonly rooms = new Map<string, Known<RoomSummary | null>>();
  private lobbyCounts: LobbyCounts = { users: 0, rooms: 0 };
  /** The revision the counts were read at: counts can overtake the snapshot, as changes can. */
  private countsRev = 0;
  /** Which connection this is (see connectionLost), and which one the counts came on. */
  private connection = 0;
  private countsConnection = 0;
  /** Cursors of the last page asked for (null: that list is at its end). */
  usersNext: string | null = null;
  roomsNext: string | null = null;
  /** The prefix the users' pages answer ("" when browsing everyone: the first page's cursor moves with it). */
  private usersPrefix = "";
  /** Paged pins in the order they came: the server follows the latest LobbyLimits.watchMax of each. */
  private pagedUsers: string[] = [];
  private pagedRooms: string[] = [];

  /**
   * The connection dropped: what was heard on it is replaced by the next connection's snapshot,
   * whatever its revisions. A snapshot's first page is its node's last read, possibly older than
   * changes another node (or this one) sent before; on the new connection nothing would correct
   * an entry that did not change since (a user shown online for good).
   */
  connectionLost(): void {
    this.connection += 1;
    this.snapshotRev = 0;
  }

  /** What an entry's revision counts for: nothing once heard on an earlier connection. */
  private revOf(known: Known<unknown> | undefined): number {
    return known && known.connection === this.connection ? known.rev : 0;
  }

  applySnapshot(snapshot: LobbySnapshot): void {
    this.snapshotRev = snapshot.rev;
    this.pageSize = snapshot.pageSize;
    if (snapshot.rev >= this.countsRev || this.countsConnection < this.connection) {
      this.lobbyCounts = snapshot.counts;
      this.countsRev = snapshot.rev;
      this.countsConnection = this.connection;
    }
    // Changes of this connection newer than the snapshot (an update can overtake it) stay; the rest is replaced.
    const replaced = (entry: Known<unknown>) => entry.rev <= snapshot.rev || entry.connection < this.connection;
    for (const [key, entry] of this.users) if (replaced(entry)) this.users.delete(key);
    for (const [id, entry] of this.rooms) if (replaced(entry)) this.rooms.delete(id);
    // A snapshot starts the view over: the server follows its partners and rooms, no page.
    for (const entry of [...this.users.values(), ...this.rooms.values()]) entry.pins = {};
    this.pagedUsers = [];
    this.pagedRooms = [];
    this.usersPrefix = "";
    for (const username of snapshot.users) this.learnUser(username, snapshot.rev, {});
    // Partners and own rooms are read after the page (they are as of followRev).
    const followRev = Math.max(snapshot.rev, snapshot.followRev ?? 0);
    for (const username of snapshot.partners) this.learnUser(username, followRev, { mine: true });
    for (const room of snapshot.rooms) this.learnRoom(room, snapshot.rev, {});
    for (const room of snapshot.myRooms) this.learnRoom(room, followRev, { mine: true });
    this.usersNext = lastKey(snapshot.users, (user) => user, snapshot.users.length >= snapshot.pageSize);
    this.roomsNext = null;
    this.trim();
  }

  applyUpdate(update: LobbyUpdate): void {
    for (const change of update.presence) {
      const key = nameKey(change.username);
      const known = this.users.get(key);
      if (change.rev <= this.snapshotRev || change.rev <= this.revOf(known)) continue;
      this.users.set(key, { value: { username: change.username, online: change.online }, rev: change.rev, pins: known?.pins ?? {}, connection: this.connection });
    }
    for (const change of update.rooms) {
      const id = "removed" in change ? change.removed : change.room.id;
      const known = this.rooms.get(id);
      if (change.rev <= this.snapshotRev || change.rev <= this.revOf(known)) continue;
      this.rooms.set(id, { value: "removed" in change ? null : change.room, rev: change.rev, pins: known?.pins ?? {}, connection: this.connection });
    }
    this.trim();
  }

  applyCounts({ users, rooms, rev }: LobbyCountsUpdate): void {
    if (rev < this.countsRev && this.countsConnection === this.connection) return;
    this.lobbyCounts = { users, rooms };
    this.countsRev = rev;
    this.countsConnection = this.connection;
  }

  /**
   * A page of users the client asked for (with `prefix`): kept, and followed by the server, until
   * the next search, the latest LobbyLimits.watchMax of them. `fresh`: the page starts a new search
   * (no `after`), so the previous pages' pins are dropped.
   */
  applyUserPage(page: UserPage, fresh: boolean, prefix = ""): void {
    if (fresh) this.usersPrefix = prefix;
    this.pagedUsers = this.pin(this.users, this.pagedUsers, page.users.map(nameKey), fresh);
    for (const username of page.users) this.learnUser(username, page.rev, { paged: true });
    this.usersNext = page.next;
    this.trim();
  }

  applyRoomPage(page: RoomPage, fresh: boolean): void {
    this.pagedRooms = this.pin(this.rooms, this.pagedRooms, page.rooms.map((room) => room.id), fresh);
    for (const room of page.rooms) this.learnRoom(room, page.rev, { paged: true });
    this.roomsNext = page.next;
    this.trim();
  }

  /** The user is someone this client follows whatever the first page does (a new conversation partner). */
  pinUser(username: string): void {
    const known = this.users.get(nameKey(username));
    if (known) known.pins.mine = true;
  }

  counts(): LobbyCounts {
    return this.lobbyCounts;
  }

  /** Users known online, in name order; with `prefix`, only those whose name starts with it. */
  onlineUsers(prefix = ""): string[] {
    const start = nameKey(prefix);
    return [...this.users.entries()]
      .filter(([key, entry]) => entry.value.online && key.startsWith(start))
      .map(([, entry]) => entry.value.username)
      .sort(byName);
  }

  /** Rooms known, most active first; with `prefix`, only those whose name starts with it. */
  roomList(prefix = ""): RoomSummary[] {
    const start = nameKey(prefix);
    return [...this.rooms.values()]
      .flatMap((entry) => (entry.value && nameKey(entry.value.name).startsWith(start) ? [entry.value] : []))
      .sort(byActivity);
  }

  room(id: string): RoomSummary | undefined {
    return this.rooms.get(id)?.value ?? undefined;
  }

  /** The paged pins after a page of `keys`: as the server's (socket-follows.ts), so that nothing shown goes unfollowed. */
  private pin<T>(known: Map<string, Known<T>>, before: string[], keys: string[], fresh: boolean): string[] {
    const after = fresh ? [...new Set(keys)] : [...new Set([...before, ...keys])].slice(-LobbyLimits.watchMax);
    const kept = new Set(after);
    for (const key of before) {
      const entry = known.get(key);
      if (entry && !kept.has(key)) entry.pins.paged = false;
    }
    return after;
  }

  private learnUser(username: string, rev: number, pins: Pins): void {
    const key = nameKey(username);
    const known = this.users.get(key);
    const merged = { ...known?.pins, ...pins };
    if (known && known.rev > rev) known.pins = merged;
    else this.users.set(key, { value: { username, online: true }, rev, pins: merged, connection: this.connection });
  }

  private learnRoom(room: RoomSummary, rev: number, pins: Pins): void {
    const known = this.rooms.get(room.id);
    const merged = { ...known?.pins, ...pins };
    if (known && known.rev > rev) known.pins = merged;
    else this.rooms.set(room.id, { value: room, rev, pins: merged, connection: this.connection });
  }

  /**
   * Drops what fell past the first page and is not pinned. Users gone offline and rooms removed are
   * kept as tombstones (an older change arriving late must not bring them back), the latest
   * TOMBSTONES_KEPT of each: out-of-order changes are seconds apart, not thousands of changes.
   */
  private trim(): void {
    dropOldest([...this.users].filter(([, entry]) => !entry.value.online), this.users);
    dropOldest([...this.rooms].filter(([, entry]) => !entry.value), this.rooms);
    // Entries heard on an earlier connection stay shown until the next snapshot replaces them, and
    // take no place on this connection's page.
    const current = (entry: Known<unknown>) => entry.connection === this.connection;
    const users = [...this.users.entries()].filter(([, entry]) => entry.value.online && current(entry)).sort(([a], [b]) => compareNameKeys(a, b));
    let lastKept: string | null = null;
    users.forEach(([key, entry], position) => {
      if (position < this.pageSize) lastKept = key;
      else if (!pinned(entry.pins)) {
        this.users.delete(key);
        // The next page starts after the last user still on this one, or those let go never show.
        const browsing = this.usersPrefix === "";
        if (browsing && lastKept !== null && (this.usersNext === null || compareNameKeys(lastKept, this.usersNext) < 0)) this.usersNext = lastKept;
      }
    });
    const rooms = [...this.rooms.values()].flatMap((entry) => (entry.value && current(entry) ? [{ ...entry.value, pinned: pinned(entry.pins) }] : []));
    rooms.sort(byActivity).forEach((room, position) => {
      if (position >= this.pageSize && !room.pinned) this.rooms.delete(room.id);
    });
  }
}

const TOMBSTONES_KEPT = 1000;

function dropOldest<T>(tombstones: Array<[string, Known<T>]>, from: Map<string, Known<T>>): void {
  if (tombstones.length <= TOMBSTONES_KEPT) return;
  tombstones.sort(([, a], [, b]) => a.rev - b.rev);
  for (const [key] of tombstones.slice(0, tombstones.length - TOMBSTONES_KEPT)) from.delete(key);
}

function lastKey<T>(items: T[], name: (item: T) => string, more: boolean): string | null {
  const last = items.at(-1);
  return more && last !== undefined ? nameKey(name(last)) : null;
}
