/**
 * The lobby snapshot stays within LobbyLimits.snapshotBytesMax whatever the names (issue 19: ≤ 16 KB
 * whatever U and R): the first page is cut short to fit, and a client's LobbyState then pages on
 * from where it was cut.
 */
import { describe, expect, it } from "vitest";
import { LobbyLimits, LobbyState, nameKey, type LobbySnapshot, type RoomSummary } from "@sala/protocol";
import { fitSnapshot } from "../src/realtime/snapshot-budget.js";
import type { LobbyFirstPage } from "../src/stores/types.js";

const PAGE = LobbyLimits.pageMax;
const bytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value), "utf8");

/** A username of `length` ASCII characters, distinct by `i` and sorting by it. */
const username = (i: number, length: number) => `u${String(i).padStart(4, "0")}`.padEnd(length, "x");

/** A room whose name is `letters` copies of `letter` (a four-byte one makes the longest JSON). */
function room(i: number, letter: string, letters: number, ownerLength = 24): RoomSummary {
  return {
    id: `room-${String(i).padStart(11, "0")}`, // as long as the 16-character ids rooms get
    name: `${letter.repeat(letters - 1)}${i % 10}`,
    owner: username(i, ownerLength),
    isPrivate: i % 2 === 0,
    memberCount: 100_000 - i,
    createdAt: 1_764_770_000_000 + i,
  };
}

function snapshotOf(page: LobbyFirstPage, extra: { partners: string[]; myRooms: RoomSummary[] }): LobbySnapshot {
  return { counts: page.counts, users: page.users, rooms: page.rooms, partners: extra.partners, myRooms: extra.myRooms, rev: page.rev, followRev: page.rev, pageSize: PAGE };
}

function lobbyOf(users: number, rooms: number, letter: string, letters: number, nameLength = 24): LobbyFirstPage {
  return {
    counts: { users: 1_000_000, rooms: 1_000_000 },
    users: Array.from({ length: users }, (_, i) => username(i, nameLength)),
    rooms: Array.from({ length: rooms }, (_, i) => room(i, letter, letters, nameLength)),
    rev: 123_456_789,
  };
}

describe("fitSnapshot", () => {
  it("leaves a snapshot of everyday names whole (100 users of 10 characters and 100 rooms of 12 fit)", () => {
    const page = lobbyOf(PAGE, PAGE, "s", 12, 10);
    const snapshot = snapshotOf(page, { partners: page.users.slice(0, 5), myRooms: page.rooms.slice(0, 5) });
    expect(fitSnapshot(snapshot, page, LobbyLimits.snapshotBytesMax)).toBe(snapshot);
    expect(bytes(snapshot)).toBeLessThanOrEqual(LobbyLimits.snapshotBytesMax);
  });

  it("cuts the first page short, users and rooms alike, when the longest names in four-byte letters would pass the limit", () => {
    const page = lobbyOf(PAGE, PAGE, "𝐀", 40); // U+1D400, a letter (ROOM_NAME_PATTERN), four bytes in UTF-8
    const extra = {
      partners: Array.from({ length: LobbyLimits.partnersMax }, (_, i) => username(5000 + i, 24)),
      myRooms: Array.from({ length: LobbyLimits.ownRoomsMax }, (_, i) => room(5000 + i, "𝐀", 40)),
    };
    const whole = snapshotOf(page, extra);
    expect(bytes(whole)).toBeGreaterThan(2 * LobbyLimits.snapshotBytesMax); // ≈ 38 KB

    const fitted = fitSnapshot(whole, page, LobbyLimits.snapshotBytesMax);
    expect(bytes(fitted)).toBeLessThanOrEqual(LobbyLimits.snapshotBytesMax);
    expect(fitted.partners).toEqual(extra.partners);
    expect(fitted.myRooms).toEqual(extra.myRooms);
    expect(fitted.pageSize).toBeGreaterThan(10);
    expect(fitted.pageSize).toBeLessThan(PAGE);
    expect(fitted.users).toEqual(page.users.slice(0, fitted.pageSize));
    expect(fitted.rooms).toEqual(page.rooms.slice(0, fitted.pageSize));
    // As much as fits: one entry more of each would not.
    const k = fitted.pageSize + 1;
    expect(bytes({ ...fitted, users: page.users.slice(0, k), rooms: page.rooms.slice(0, k), pageSize: k })).toBeGreaterThan(LobbyLimits.snapshotBytesMax);
  });

  it("lets a client page on from where the first page was cut", () => {
    const page = lobbyOf(PAGE, PAGE, "𝐀", 40);
    const fitted = fitSnapshot(snapshotOf(page, { partners: [], myRooms: [] }), page, LobbyLimits.snapshotBytesMax);
    const lobby = new LobbyState();
    lobby.applySnapshot(fitted);
    expect(lobby.onlineUsers()).toEqual(fitted.users);
    expect(lobby.usersNext).toBe(nameKey(fitted.users.at(-1)!));
    // A change for a room past the cut (the node's tick still sends its whole page) is not shown.
    const past = page.rooms[fitted.pageSize + 5]!;
    lobby.applyUpdate({ presence: [], rooms: [{ rev: page.rev + 1, room: { ...past, memberCount: 1 } }] });
    expect(lobby.roomList().map((r) => r.id)).not.toContain(past.id);
    expect(lobby.roomList()).toHaveLength(fitted.pageSize);
  });

  it("measures a first page once, however many snapshots start from it", () => {
    const page = lobbyOf(PAGE, PAGE, "𝐀", 40);
    const first = fitSnapshot(snapshotOf(page, { partners: [], myRooms: [] }), page, LobbyLimits.snapshotBytesMax);
    // The page's measure is kept with it: a later snapshot from the same page cuts it the same way.
    const again = fitSnapshot(snapshotOf(page, { partners: [], myRooms: [] }), page, LobbyLimits.snapshotBytesMax);
    expect(again.pageSize).toBe(first.pageSize);
  });
});
