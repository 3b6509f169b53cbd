/**
 * LobbyState, as the web client and the tests use it: a bounded first page kept current by updates
 * that may come out of order, pages pinned until the next search, partners and the user's rooms
 * pinned until the next snapshot, and the lobby's counts.
 */
import { describe, expect, it } from "vitest";
import { LobbyState } from "../src/lobby-state.js";
import type { LobbySnapshot, RoomSummary } from "../src/events.js";

let created = 0;
function room(name: string, memberCount: number, id = name.padEnd(16, "_").slice(0, 16)): RoomSummary {
  return { id, name, owner: "owner", isPrivate: false, memberCount, createdAt: ++created };
}

function snapshot(parts: Partial<LobbySnapshot> = {}): LobbySnapshot {
  return { counts: { users: 0, rooms: 0 }, users: [], partners: [], rooms: [], myRooms: [], rev: 10, pageSize: 3, ...parts };
}

const names = (rooms: RoomSummary[]) => rooms.map((entry) => entry.name);
const online = (username: string, rev: number) => ({ presence: [{ username, online: true, rev }], rooms: [] });
const offline = (username: string, rev: number) => ({ presence: [{ username, online: false, rev }], rooms: [] });

describe("LobbyState", () => {
  it("keeps only the first page of users and rooms beside what it pinned, so nothing it shows goes stale", () => {
    const lobby = new LobbyState();
    lobby.applySnapshot(snapshot({ users: ["b", "c", "d"], partners: ["zed"], rooms: [room("r1", 5), room("r2", 4), room("r3", 3)], myRooms: [room("mine", 0)], pageSize: 3, rev: 1 }));
    expect(lobby.usersNext).toBe("d"); // a full first page: there may be more
    // "a" comes online on the first page: "d" falls past it and is dropped; the partner stays.
    lobby.applyUpdate({ presence: [{ username: "a", online: true, rev: 2 }], rooms: [{ room: room("r4", 9), rev: 3 }] });
    expect(lobby.onlineUsers()).toEqual(["a", "b", "c", "zed"]);
    expect(lobby.usersNext).toBe("c"); // "d" was let go: the next page starts after "c"
    expect(names(lobby.roomList())).toEqual(["r4", "r1", "r2", "mine"]);
    // A user searched for is pinned until the next search.
    lobby.applyUserPage({ users: ["x1", "x2"], next: "x2", rev: 4 }, true);
    expect(lobby.onlineUsers("x")).toEqual(["x1", "x2"]);
    expect(lobby.usersNext).toBe("x2");
    lobby.applyUserPage({ users: ["x3"], next: null, rev: 4 }, false);
    expect(lobby.onlineUsers("X")).toEqual(["x1", "x2", "x3"]);
    lobby.applyUserPage({ users: ["y1"], next: null, rev: 5 }, true);
    expect(lobby.onlineUsers()).toEqual(["a", "b", "c", "y1", "zed"]);
    // A room page pins its rooms the same way; an unpinned room past the page goes.
    lobby.applyRoomPage({ rooms: [room("quiet", 0)], next: null, rev: 5 }, true);
    lobby.applyUpdate({ presence: [], rooms: [{ room: room("r5", 8), rev: 6 }] });
    expect(names(lobby.roomList())).toEqual(["r4", "r5", "r1", "quiet", "mine"]); // ties: the greater id first
  });

  it("keeps the latest thousand tombstones, so a tab open for days does not grow without bound", () => {
    const lobby = new LobbyState();
    lobby.applySnapshot(snapshot({ rev: 0 }));
    for (let i = 1; i <= 1500; i++) lobby.applyUpdate({ presence: [{ username: `u${i}`, online: false, rev: i }], rooms: [] });
    // The latest tombstones still stop a late "online": the oldest are forgotten.
    lobby.applyUpdate({ presence: [{ username: "u1500", online: true, rev: 1400 }, { username: "u1", online: true, rev: 1501 }], rooms: [] });
    expect(lobby.onlineUsers()).toEqual(["u1"]);
  });

  it("holds the snapshot: users by name (case-folded), rooms most active first, counts", () => {
    const lobby = new LobbyState();
    lobby.applySnapshot(
      snapshot({
        counts: { users: 40, rooms: 12 },
        users: ["alice", "Bob", "carol"],
        rooms: [room("Busy", 9), room("Quiet", 1), room("Mid", 4)],
      }),
    );
    expect(lobby.onlineUsers()).toEqual(["alice", "Bob", "carol"]);
    expect(names(lobby.roomList())).toEqual(["Busy", "Mid", "Quiet"]);
    expect(lobby.counts()).toEqual({ users: 40, rooms: 12 });
    // A full first page: there is more, after its last name (as a name key).
    expect(lobby.usersNext).toBe("carol");
    expect(lobby.roomsNext).toBeNull();
  });

  it("has no next page of users when the first page is not full", () => {
    const lobby = new LobbyState();
    lobby.applySnapshot(snapshot({ users: ["alice", "Bob"] }));
    expect(lobby.usersNext).toBeNull();
  });

  it("drops users who fall past the page size as others come online before them", () => {
    const lobby = new LobbyState();
    lobby.applySnapshot(snapshot({ users: ["bea", "cid", "dan"] }));
    lobby.applyUpdate(online("Abe", 11));
    // dan is now 4th: the server no longer sends his changes, so he must not linger (stale).
    expect(lobby.onlineUsers()).toEqual(["Abe", "bea", "cid"]);
    lobby.applyUpdate(offline("Abe", 12));
    expect(lobby.onlineUsers()).toEqual(["bea", "cid"]);
  });

  it("drops rooms pushed past the page size by a more active one, and removed rooms", () => {
    const lobby = new LobbyState();
    lobby.applySnapshot(snapshot({ rooms: [room("A", 5), room("B", 3), room("C", 2)] }));
    lobby.applyUpdate({ presence: [], rooms: [{ rev: 11, room: room("D", 4) }] });
    expect(names(lobby.roomList())).toEqual(["A", "D", "B"]);
    expect(lobby.room(room("C", 0).id)).toBeUndefined();
    lobby.applyUpdate({ presence: [], rooms: [{ rev: 12, removed: room("A", 0).id }] });
    expect(names(lobby.roomList())).toEqual(["D", "B"]);
    expect(lobby.room(room("A", 0).id)).toBeUndefined();
  });

  it("filters by prefix, case-insensitively", () => {
    const lobby = new LobbyState();
    lobby.applySnapshot(snapshot({ users: ["Ana", "anabel", "Bob"], rooms: [room("Café", 1), room("cafeteria", 2), room("Bar", 3)] }));
    expect(lobby.onlineUsers("AN")).toEqual(["Ana", "anabel"]);
    expect(names(lobby.roomList("caf"))).toEqual(["cafeteria", "Café"]);
    expect(lobby.onlineUsers("z")).toEqual([]);
  });
});

describe("LobbyState: revisions", () => {
  it("ignores changes the snapshot already holds, and older changes arriving after newer ones", () => {
    const lobby = new LobbyState();
    lobby.applySnapshot(snapshot({ users: ["ana"], rev: 10 }));
    lobby.applyUpdate(offline("ana", 9)); // before the snapshot: already in it
    expect(lobby.onlineUsers()).toEqual(["ana"]);
    lobby.applyUpdate(offline("ana", 14));
    lobby.applyUpdate(online("ana", 12)); // from another node, late
    expect(lobby.onlineUsers()).toEqual([]);
    lobby.applyUpdate(online("ana", 15));
    expect(lobby.onlineUsers()).toEqual(["ana"]);
  });

  it("keeps a change that overtook the snapshot", () => {
    const lobby = new LobbyState();
    lobby.applyUpdate(online("zoe", 12));
    lobby.applySnapshot(snapshot({ users: ["ana"], rev: 10 }));
    expect(lobby.onlineUsers()).toEqual(["ana", "zoe"]);
  });

  it("orders room changes by revision too", () => {
    const lobby = new LobbyState();
    const general = room("General", 1);
    lobby.applySnapshot(snapshot({ rooms: [general], rev: 10 }));
    lobby.applyUpdate({ presence: [], rooms: [{ rev: 13, room: { ...general, memberCount: 3 } }] });
    lobby.applyUpdate({ presence: [], rooms: [{ rev: 12, room: { ...general, memberCount: 2 } }] });
    expect(lobby.room(general.id)?.memberCount).toBe(3);
  });
});

describe("LobbyState: pages and pins", () => {
  it("keeps the pages asked for past the first page, and their cursor", () => {
    const lobby = new LobbyState();
    lobby.applySnapshot(snapshot({ users: ["a1", "a2", "a3"] }));
    lobby.applyUserPage({ users: ["b1", "b2", "b3"], next: "b3", rev: 11 }, false);
    expect(lobby.onlineUsers()).toEqual(["a1", "a2", "a3", "b1", "b2", "b3"]);
    expect(lobby.usersNext).toBe("b3");
    // Pins survive the trim that follows any change.
    lobby.applyUpdate(online("a0", 12));
    expect(lobby.onlineUsers()).toEqual(["a0", "a1", "a2", "b1", "b2", "b3"]);
    lobby.applyUserPage({ users: ["c1"], next: null, rev: 13 }, false);
    expect(lobby.usersNext).toBeNull();
    expect(lobby.onlineUsers()).toContain("b1");
  });

  it("lets go of the previous pages on a fresh search", () => {
    const lobby = new LobbyState();
    lobby.applySnapshot(snapshot({ users: ["a1", "a2", "a3"] }));
    lobby.applyUserPage({ users: ["b1", "b2"], next: null, rev: 11 }, false);
    lobby.applyUserPage({ users: ["zed"], next: null, rev: 12 }, true);
    expect(lobby.onlineUsers()).toEqual(["a1", "a2", "a3", "zed"]);
    expect(lobby.onlineUsers("b")).toEqual([]);
  });

  it("keeps room pages, in activity order among the first page, until a fresh one", () => {
    const lobby = new LobbyState();
    lobby.applySnapshot(snapshot({ rooms: [room("A", 5), room("B", 4), room("C", 3)] }));
    lobby.applyRoomPage({ rooms: [room("x1", 0), room("x2", 0)], next: "x2", rev: 11 }, false);
    expect(lobby.roomsNext).toBe("x2");
    expect(lobby.roomList().map((entry) => entry.name)).toEqual(["A", "B", "C", "x2", "x1"]);
    lobby.applyRoomPage({ rooms: [room("y1", 0)], next: null, rev: 12 }, true);
    expect(lobby.roomList().map((entry) => entry.name)).toEqual(["A", "B", "C", "y1"]);
    expect(lobby.roomsNext).toBeNull();
  });

  it("keeps partners and the user's rooms past the first page until a fresh search", () => {
    const lobby = new LobbyState();
    lobby.applySnapshot(snapshot({ users: ["a1", "a2", "a3"], partners: ["zoe"], rooms: [room("A", 5), room("B", 4), room("C", 3)], myRooms: [room("Mine", 0)] }));
    expect(lobby.onlineUsers()).toEqual(["a1", "a2", "a3", "zoe"]);
    expect(names(lobby.roomList())).toEqual(["A", "B", "C", "Mine"]);
    lobby.applyUpdate(online("a0", 11));
    lobby.applyUpdate({ presence: [], rooms: [{ rev: 12, room: room("D", 9) }] });
    expect(lobby.onlineUsers()).toEqual(["a0", "a1", "a2", "zoe"]);
    expect(names(lobby.roomList())).toEqual(["D", "A", "B", "Mine"]);
    // A new conversation partner on the page is kept when the page moves on.
    lobby.pinUser("a2");
    lobby.applyUpdate(online("a00", 13));
    expect(lobby.onlineUsers()).toEqual(["a0", "a00", "a1", "a2", "zoe"]);
    // A fresh search lets go of the pages' pins, not of partners and the user's rooms.
    lobby.applyUserPage({ users: ["b1"], next: null, rev: 14 }, true);
    lobby.applyRoomPage({ rooms: [room("E", 0)], next: null, rev: 14 }, true);
    expect(lobby.onlineUsers()).toEqual(["a0", "a00", "a1", "a2", "b1", "zoe"]);
    expect(names(lobby.roomList())).toContain("Mine");
  });

  it("takes the newest counts the server sends, whichever comes first of them and the snapshot", () => {
    const lobby = new LobbyState();
    lobby.applySnapshot(snapshot({ counts: { users: 3, rooms: 1 }, rev: 5 }));
    lobby.applyCounts({ users: 50_000, rooms: 10_000, rev: 10 });
    expect(lobby.counts()).toEqual({ users: 50_000, rooms: 10_000 });
    lobby.applyCounts({ users: 40_000, rooms: 9_000, rev: 9 }); // older: ignored
    expect(lobby.counts()).toEqual({ users: 50_000, rooms: 10_000 });
    lobby.applySnapshot(snapshot({ counts: { users: 49_999, rooms: 10_001 }, rev: 20 }));
    expect(lobby.counts()).toEqual({ users: 49_999, rooms: 10_001 });
    // Counts that overtook a snapshot of an older revision stay.
    lobby.applyCounts({ users: 7, rooms: 7, rev: 30 });
    lobby.applySnapshot(snapshot({ counts: { users: 6, rooms: 6 }, rev: 25 }));
    expect(lobby.counts()).toEqual({ users: 7, rooms: 7 });
  });

  it("lets a new connection's snapshot replace what the last one heard, whatever its revisions", () => {
    const lobby = new LobbyState();
    lobby.applySnapshot(snapshot({ users: ["ana", "bob"], counts: { users: 2, rooms: 0 }, rev: 150 }));
    lobby.applyUpdate(online("cid", 200)); // from node A's tick
    lobby.applyCounts({ users: 3, rooms: 0, rev: 200 });
    expect(lobby.onlineUsers()).toEqual(["ana", "bob", "cid"]);
    // The socket moves to node B, whose last tick read the lobby at 180: cid has gone since.
    lobby.connectionLost();
    lobby.applyUpdate(online("dan", 181)); // B's tick, overtaking B's snapshot
    lobby.applySnapshot(snapshot({ users: ["ana", "bob"], counts: { users: 2, rooms: 0 }, rev: 180 }));
    expect(lobby.onlineUsers()).toEqual(["ana", "bob", "dan"]);
    expect(lobby.counts()).toEqual({ users: 2, rooms: 0 });
  });

  it("takes a snapshot's partners and own rooms as of followRev, read after its first page", () => {
    const lobby = new LobbyState();
    const mine = room("mine", 6);
    lobby.applySnapshot(snapshot({ myRooms: [mine], partners: ["zed"], rev: 100, followRev: 102 }));
    // Changes older than what the snapshot read of them arrive late: ignored.
    lobby.applyUpdate({ presence: [{ username: "zed", online: false, rev: 101 }], rooms: [{ room: { ...mine, memberCount: 5 }, rev: 101 }] });
    expect(lobby.room(mine.id)?.memberCount).toBe(6);
    expect(lobby.onlineUsers()).toContain("zed");
    lobby.applyUpdate({ presence: [], rooms: [{ room: { ...mine, memberCount: 7 }, rev: 103 }] });
    expect(lobby.room(mine.id)?.memberCount).toBe(7);
  });

  it("keeps the search's cursor when the first page moves, and only the latest watchMax paged entries (as the server follows)", () => {
    const lobby = new LobbyState();
    lobby.applySnapshot(snapshot({ users: ["a1", "a2", "a3"], rev: 1 }));
    lobby.applyUserPage({ users: ["b1", "b2"], next: "b2", rev: 2 }, true, "b");
    lobby.applyUpdate(online("a0", 3)); // the first page moves: not the search's cursor
    expect(lobby.usersNext).toBe("b2");
    // Four more pages of 100: the earliest paged users are let go (they are past the first page).
    for (let page = 0; page < 4; page++) {
      const users = Array.from({ length: 100 }, (_, i) => `c${page}${String(i).padStart(3, "0")}`);
      lobby.applyUserPage({ users, next: users.at(-1)!, rev: 4 + page }, false, "b");
    }
    const paged = lobby.onlineUsers("c");
    expect(paged).toHaveLength(300);
    expect(paged[0]).toBe("c1000");
    expect(lobby.onlineUsers("b")).toEqual([]);
  });
});
