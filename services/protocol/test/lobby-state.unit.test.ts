import { describe, expect, it } from "vitest";
import { LobbyState } from "../src/lobby-state.js";
import type { LobbySnapshot, RoomSummary } from "../src/events.js";

const room = (id: string, memberCount = 0): RoomSummary => ({ id, name: id, owner: "ana", isPrivate: false, memberCount, createdAt: 1 });
const snapshot = (parts: Partial<LobbySnapshot> & { rev: number }): LobbySnapshot => ({
  counts: { users: parts.users?.length ?? 0, rooms: parts.rooms?.length ?? 0 },
  users: [],
  partners: [],
  rooms: [],
  myRooms: [],
  pageSize: 100,
  ...parts,
});

describe("LobbyState", () => {
  it("ignores changes the snapshot already covers", () => {
    const lobby = new LobbyState();
    lobby.applySnapshot(snapshot({ users: ["Ana"], rooms: [room("r1", 2)], rev: 10 }));
    lobby.applyUpdate({ presence: [{ username: "Ana", online: false, rev: 9 }], rooms: [{ removed: "r1", rev: 8 }] });
    expect(lobby.onlineUsers()).toEqual(["Ana"]);
    expect(lobby.roomList()).toEqual([room("r1", 2)]);
  });

  it("keeps the highest revision per user and room when updates arrive out of order", () => {
    const lobby = new LobbyState();
    lobby.applySnapshot(snapshot({ rev: 0 }));
    lobby.applyUpdate({ presence: [{ username: "Bia", online: false, rev: 5 }], rooms: [{ room: room("r2", 3), rev: 7 }] });
    lobby.applyUpdate({ presence: [{ username: "bia", online: true, rev: 4 }], rooms: [{ room: room("r2", 1), rev: 6 }] });
    expect(lobby.onlineUsers()).toEqual([]);
    expect(lobby.room("r2")?.memberCount).toBe(3);
    lobby.applyUpdate({ presence: [{ username: "Bia", online: true, rev: 8 }], rooms: [{ removed: "r2", rev: 9 }] });
    expect(lobby.onlineUsers()).toEqual(["Bia"]);
    expect(lobby.roomList()).toEqual([]);
  });

  it("keeps changes newer than a snapshot that arrived after them", () => {
    const lobby = new LobbyState();
    lobby.applySnapshot(snapshot({ users: ["Old"], rooms: [room("gone")], rev: 3 }));
    lobby.applyUpdate({ presence: [{ username: "Caio", online: true, rev: 12 }, { username: "Dan", online: false, rev: 13 }], rooms: [{ removed: "r3", rev: 14 }] });
    lobby.applySnapshot(snapshot({ users: ["Dan", "Eva"], rooms: [room("r3")], rev: 11 }));
    expect(lobby.onlineUsers()).toEqual(["Caio", "Eva"]);
    expect(lobby.roomList()).toEqual([]);
  });

  it("keeps only the first page of users and rooms beside what it pinned, so nothing it shows goes stale", () => {
    const lobby = new LobbyState();
    lobby.applySnapshot(snapshot({ users: ["b", "c", "d"], partners: ["zed"], rooms: [room("r1", 5), room("r2", 4), room("r3", 3)], myRooms: [room("mine", 0)], pageSize: 3, rev: 1 }));
    expect(lobby.usersNext).toBe("d"); // a full first page: there may be more
    // "a" comes online on the first page: "d" falls past it and is dropped; the partner stays.
    lobby.applyUpdate({ presence: [{ username: "a", online: true, rev: 2 }], rooms: [{ room: room("r4", 9), rev: 3 }] });
    expect(lobby.onlineUsers()).toEqual(["a", "b", "c", "zed"]);
    expect(lobby.roomList().map((r) => r.id)).toEqual(["r4", "r1", "r2", "mine"]);
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
    expect(lobby.roomList().map((r) => r.id)).toEqual(["r4", "r5", "r1", "quiet", "mine"]); // ties: the greater id first
  });

  it("takes the counts the server sends", () => {
    const lobby = new LobbyState();
    lobby.applySnapshot(snapshot({ counts: { users: 50_000, rooms: 10_000 }, rev: 1 }));
    expect(lobby.counts()).toEqual({ users: 50_000, rooms: 10_000 });
    lobby.applyCounts({ users: 49_990, rooms: 10_001 });
    expect(lobby.counts()).toEqual({ users: 49_990, rooms: 10_001 });
  });

  it("keeps the latest thousand tombstones, so a tab open for days does not grow without bound", () => {
    const lobby = new LobbyState();
    lobby.applySnapshot(snapshot({ rev: 0 }));
    for (let i = 1; i <= 1500; i++) lobby.applyUpdate({ presence: [{ username: `u${i}`, online: false, rev: i }], rooms: [] });
    // The latest tombstones still stop a late "online": the oldest are forgotten.
    lobby.applyUpdate({ presence: [{ username: "u1500", online: true, rev: 1400 }, { username: "u1", online: true, rev: 1501 }], rooms: [] });
    expect(lobby.onlineUsers()).toEqual(["u1"]);
  });
});
