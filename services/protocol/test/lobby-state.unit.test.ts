import { describe, expect, it } from "vitest";
import { LobbyState } from "../src/lobby-state.js";
import type { RoomSummary } from "../src/events.js";

const room = (id: string, memberCount = 0): RoomSummary => ({ id, name: id, owner: "ana", isPrivate: false, memberCount, createdAt: 1 });

describe("LobbyState", () => {
  it("ignores changes the snapshot already covers", () => {
    const lobby = new LobbyState();
    lobby.applySnapshot({ users: ["Ana"], rooms: [room("r1", 2)], rev: 10 });
    lobby.applyUpdate({ presence: [{ username: "Ana", online: false, rev: 9 }], rooms: [{ removed: "r1", rev: 8 }] });
    expect(lobby.onlineUsers()).toEqual(["Ana"]);
    expect(lobby.roomList()).toEqual([room("r1", 2)]);
  });

  it("keeps the highest revision per user and room when updates arrive out of order", () => {
    const lobby = new LobbyState();
    lobby.applySnapshot({ users: [], rooms: [], rev: 0 });
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
    lobby.applySnapshot({ users: ["Old"], rooms: [room("gone")], rev: 3 });
    lobby.applyUpdate({ presence: [{ username: "Caio", online: true, rev: 12 }, { username: "Dan", online: false, rev: 13 }], rooms: [{ removed: "r3", rev: 14 }] });
    lobby.applySnapshot({ users: ["Dan", "Eva"], rooms: [room("r3")], rev: 11 });
    expect(lobby.onlineUsers()).toEqual(["Caio", "Eva"]);
    expect(lobby.roomList()).toEqual([]);
  });
});
