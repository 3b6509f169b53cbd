/**
 * The lobby as the page shows it (web/src/lib/lobby.svelte.ts): searches asked after a pause and
 * answered in order, "more" pages, the user's rooms and conversation partners first, and totals.
 * The server is played by the test, which answers `lobby_users` / `lobby_rooms`.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Ack, LobbyPagePayload, LobbySnapshot, RoomPage, RoomSummary, UserPage } from "@sala/protocol";
import { Lobby, SEARCH_DELAY_MS } from "../src/lib/lobby.svelte.js";

function room(name: string, memberCount = 0): RoomSummary {
  return { id: name.padEnd(16, "_").slice(0, 16), name, owner: "owner", isPrivate: false, memberCount, createdAt: 0 };
}

function snapshot(parts: Partial<LobbySnapshot> = {}): LobbySnapshot {
  return { counts: { users: 1, rooms: 0 }, users: [], partners: [], rooms: [], myRooms: [], rev: 10, pageSize: 3, ...parts };
}

/** A server whose answers the test releases one by one. */
function fakeServer() {
  const asked: { event: "users" | "rooms"; payload: LobbyPagePayload; answer: (page: UserPage | RoomPage) => void }[] = [];
  const ask = <T,>(event: "users" | "rooms", payload: LobbyPagePayload) =>
    new Promise<Ack<T & object>>((resolve) => asked.push({ event, payload, answer: (page) => resolve({ ok: true, ...(page as unknown as T & object) }) }));
  return {
    asked,
    requests: { users: (payload: LobbyPagePayload) => ask<UserPage>("users", payload), rooms: (payload: LobbyPagePayload) => ask<RoomPage>("rooms", payload) },
  };
}

const settle = () => vi.advanceTimersByTimeAsync(0);
const names = (rooms: RoomSummary[]) => rooms.map((entry) => entry.name);

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe("lobby searches", () => {
  it("filters what is known at once and asks the server once typing pauses", async () => {
    const server = fakeServer();
    const lobby = new Lobby("me", server.requests);
    lobby.applySnapshot(snapshot({ users: ["ana", "bob", "carl"], counts: { users: 500, rooms: 0 } }));
    lobby.searchUsers("a");
    lobby.searchUsers("an");
    expect(lobby.users).toEqual(["ana"]);
    await vi.advanceTimersByTimeAsync(SEARCH_DELAY_MS - 1);
    expect(server.asked).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(server.asked.map((request) => request.payload)).toEqual([{ prefix: "an" }]);
    expect(lobby.moreUsers).toBe(false); // nothing to page until the answer is in
    server.asked[0]!.answer({ users: ["ana", "andre", "anna"], next: "anna", rev: 11 });
    await settle();
    expect(lobby.users).toEqual(["ana", "andre", "anna"]);
    expect(lobby.moreUsers).toBe(true);

    // More: the next page of the same search, after the last name.
    void lobby.loadMoreUsers();
    expect(server.asked[1]!.payload).toEqual({ prefix: "an", after: "anna" });
    server.asked[1]!.answer({ users: ["antonio"], next: null, rev: 12 });
    await settle();
    expect(lobby.users).toEqual(["ana", "andre", "anna", "antonio"]);
    expect(lobby.moreUsers).toBe(false);
  });

  it("drops an answer to a search typed over, and shows when nothing matches", async () => {
    const server = fakeServer();
    const lobby = new Lobby("me", server.requests);
    lobby.applySnapshot(snapshot({ users: ["ana", "bob", "carl"] }));
    lobby.searchUsers("x");
    await vi.advanceTimersByTimeAsync(SEARCH_DELAY_MS);
    lobby.searchUsers("xy");
    await vi.advanceTimersByTimeAsync(SEARCH_DELAY_MS);
    server.asked[1]!.answer({ users: [], next: null, rev: 12 });
    server.asked[0]!.answer({ users: ["xavier"], next: null, rev: 11 });
    await settle();
    expect(lobby.users).toEqual([]);
    expect(lobby.userSearch.settled()).toBe(true);
  });

  it("clearing the users' search asks for the first page again (the server then follows it)", async () => {
    const server = fakeServer();
    const lobby = new Lobby("me", server.requests);
    lobby.applySnapshot(snapshot({ users: ["ana", "bob", "carl"], counts: { users: 9, rooms: 0 } }));
    lobby.searchUsers("zo");
    await vi.advanceTimersByTimeAsync(SEARCH_DELAY_MS);
    server.asked[0]!.answer({ users: ["zoe"], next: null, rev: 11 });
    await settle();
    lobby.searchUsers("");
    await vi.advanceTimersByTimeAsync(SEARCH_DELAY_MS);
    expect(server.asked[1]!.payload).toEqual({});
    server.asked[1]!.answer({ users: ["ana", "bob", "carl"], next: "carl", rev: 12 });
    await settle();
    expect(lobby.users).toEqual(["me", "ana", "bob", "carl"]);
    expect(lobby.moreUsers).toBe(true);
  });

  it("asks again for what is searched when a new snapshot comes (after a reconnect)", async () => {
    const server = fakeServer();
    const lobby = new Lobby("me", server.requests);
    lobby.applySnapshot(snapshot());
    lobby.searchRooms("caf");
    await vi.advanceTimersByTimeAsync(SEARCH_DELAY_MS);
    lobby.applySnapshot(snapshot({ rev: 20 }));
    expect(server.asked.map((request) => [request.event, request.payload])).toEqual([
      ["rooms", { prefix: "caf" }],
      ["rooms", { prefix: "caf" }],
    ]);
    server.asked[0]!.answer({ rooms: [room("café velho")], next: null, rev: 11 }); // to the question before the snapshot
    server.asked[1]!.answer({ rooms: [room("café novo")], next: null, rev: 21 });
    await settle();
    expect(names(lobby.rooms)).toEqual(["café novo"]);
  });
});

describe("lobby rooms", () => {
  it("shows the user's rooms first, then the most active, then the pages asked for in their order", async () => {
    const server = fakeServer();
    const lobby = new Lobby("me", server.requests);
    lobby.applySnapshot(
      snapshot({
        counts: { users: 1, rooms: 7 },
        rooms: [room("busy", 9), room("mid", 5), room("calm", 2)],
        myRooms: [room("ours", 1)],
      }),
    );
    expect(names(lobby.rooms)).toEqual(["ours", "busy", "mid", "calm"]);
    expect(lobby.mine).toEqual([room("ours").id]);
    expect(lobby.moreRooms).toBe(true);
    expect(lobby.roomTotal).toBe(7);

    // The first page by name holds only rooms on screen: the next one is read at once.
    void lobby.loadMoreRooms();
    expect(server.asked[0]!.payload).toEqual({});
    server.asked[0]!.answer({ rooms: [room("busy", 9), room("calm", 2)], next: "calm", rev: 11 });
    await settle();
    expect(server.asked[1]!.payload).toEqual({ after: "calm" });
    server.asked[1]!.answer({ rooms: [room("echo"), room("fox")], next: "fox", rev: 12 });
    await settle();
    expect(server.asked).toHaveLength(2);
    expect(names(lobby.rooms)).toEqual(["ours", "busy", "mid", "calm", "echo", "fox"]);
    expect(lobby.moreRooms).toBe(true);

    void lobby.loadMoreRooms();
    server.asked[2]!.answer({ rooms: [room("mid", 5), room("ours", 1), room("zen")], next: null, rev: 13 });
    await settle();
    expect(names(lobby.rooms)).toEqual(["ours", "busy", "mid", "calm", "echo", "fox", "zen"]);
    expect(lobby.moreRooms).toBe(false);
    expect(lobby.roomTotal).toBe(7);
  });

  it("searches rooms by name; clearing shows the lobby's first page again without asking", async () => {
    const server = fakeServer();
    const lobby = new Lobby("me", server.requests);
    lobby.applySnapshot(snapshot({ counts: { users: 1, rooms: 150 }, rooms: [room("busy", 9), room("mid", 5), room("calm", 2)], myRooms: [room("ours", 1)] }));
    lobby.searchRooms("Z");
    expect(lobby.rooms).toEqual([]);
    await vi.advanceTimersByTimeAsync(SEARCH_DELAY_MS);
    server.asked[0]!.answer({ rooms: [room("zeta", 0), room("Zulu", 1)], next: "zulu", rev: 11 });
    await settle();
    expect(names(lobby.rooms)).toEqual(["zeta", "Zulu"]);
    expect(lobby.moreRooms).toBe(true);
    lobby.searchRooms("");
    expect(names(lobby.rooms)).toEqual(["ours", "busy", "mid", "calm"]);
    await vi.advanceTimersByTimeAsync(SEARCH_DELAY_MS);
    expect(server.asked).toHaveLength(1);
  });

  it("keeps the user's rooms current: joined, left, changed, removed", () => {
    const lobby = new Lobby("me", fakeServer().requests);
    lobby.applySnapshot(snapshot({ rooms: [room("busy", 9)] }));
    lobby.joined(room("new", 1));
    expect(names(lobby.rooms)).toEqual(["new", "busy"]);
    lobby.applyUpdate({ presence: [], rooms: [{ rev: 11, room: room("new", 2) }] });
    expect(lobby.rooms[0]!.memberCount).toBe(2);
    lobby.applyUpdate({ presence: [], rooms: [{ rev: 12, removed: room("new").id }] });
    expect(names(lobby.rooms)).toEqual(["busy"]);
    lobby.joined(room("other", 1));
    lobby.left(room("other").id);
    expect(names(lobby.rooms)).toEqual(["busy"]);
  });
});

describe("lobby users", () => {
  it("lists online conversation partners first, wherever their names fall, through a new search", async () => {
    const server = fakeServer();
    const lobby = new Lobby("me", server.requests);
    lobby.addPartners(["Zed", "yan"]);
    lobby.applySnapshot(snapshot({ users: ["ana", "bob", "carl"], partners: ["Zed"], counts: { users: 6, rooms: 0 } }));
    expect(lobby.users).toEqual(["Zed", "me", "ana", "bob", "carl"]);
    expect(lobby.partners).toEqual(["Zed"]);
    // A partner coming online is sent to us (the server follows partners), past the first page or not.
    lobby.applyUpdate({ presence: [{ username: "yan", online: true, rev: 11 }], rooms: [] });
    expect(lobby.partners).toEqual(["yan", "Zed"]);
    lobby.searchUsers("b");
    await vi.advanceTimersByTimeAsync(SEARCH_DELAY_MS);
    server.asked[0]!.answer({ users: ["bob"], next: null, rev: 12 });
    await settle();
    lobby.searchUsers("");
    await vi.advanceTimersByTimeAsync(SEARCH_DELAY_MS);
    server.asked[1]!.answer({ users: ["ana", "bob", "carl"], next: "carl", rev: 13 });
    await settle();
    expect(lobby.partners).toEqual(["yan", "Zed"]);
    lobby.applyUpdate({ presence: [{ username: "zed", online: false, rev: 14 }], rooms: [] });
    expect(lobby.users).toEqual(["yan", "me", "ana", "bob", "carl"]);
  });

  it("counts from the list when it holds everyone, else from the server", () => {
    const lobby = new Lobby("me", fakeServer().requests);
    lobby.applySnapshot(snapshot({ users: ["ana", "me"], counts: { users: 2, rooms: 0 } }));
    lobby.applyUpdate({ presence: [{ username: "bob", online: true, rev: 11 }], rooms: [] });
    expect(lobby.userTotal).toBe(3); // live, before the next counts
    lobby.applySnapshot(snapshot({ users: ["ana", "bob", "carl"], counts: { users: 4000, rooms: 0 }, rev: 20 }));
    expect(lobby.userTotal).toBe(4000);
    lobby.applyCounts({ users: 4100, rooms: 3, rev: 21 });
    expect(lobby.userTotal).toBe(4100);
  });
});

describe("lobby users past the first page", () => {
  it("pages on from the last user listed when users coming online pushed the page's last ones out", async () => {
    const server = fakeServer();
    const lobby = new Lobby("ana", server.requests);
    lobby.applySnapshot(snapshot({ users: ["ana", "bob"], counts: { users: 2, rooms: 0 } }));
    expect(lobby.moreUsers).toBe(false);
    lobby.applyUpdate({ presence: [{ username: "cid", online: true, rev: 11 }], rooms: [] });
    lobby.applyUpdate({ presence: [{ username: "abe", online: true, rev: 12 }], rooms: [] });
    // Page size 3: cid was let go. The counts say there is more.
    expect(lobby.users).toEqual(["abe", "ana", "bob"]);
    lobby.applyCounts({ users: 4, rooms: 0, rev: 13 });
    expect(lobby.moreUsers).toBe(true);
    expect(lobby.userTotal).toBe(4);
    void lobby.loadMoreUsers();
    expect(server.asked[0]!.payload).toEqual({ after: "bob" });
    server.asked[0]!.answer({ users: ["cid"], next: null, rev: 13 });
    await settle();
    expect(lobby.users).toEqual(["abe", "ana", "bob", "cid"]);
    expect(lobby.moreUsers).toBe(false);
  });

  it("does not skip the users let go when the first page was full", async () => {
    const server = fakeServer();
    const lobby = new Lobby("ana", server.requests);
    lobby.applySnapshot(snapshot({ users: ["ana", "bob", "cid"], counts: { users: 9, rooms: 0 } }));
    lobby.applyUpdate({ presence: [{ username: "abe", online: true, rev: 11 }], rooms: [] });
    void lobby.loadMoreUsers();
    expect(server.asked[0]!.payload).toEqual({ after: "bob" }); // not after "cid"
  });
});
