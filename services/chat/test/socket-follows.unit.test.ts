/** What one socket follows in the lobby (realtime/socket-follows.ts), on a socket that only keeps its rooms. */
import { describe, expect, it } from "vitest";
import { LobbyLimits } from "@sala/protocol";
import { FOLLOWED_OWN_ROOMS_MAX, FOLLOWED_PARTNERS_MAX, SocketFollows } from "../src/realtime/socket-follows.js";
import type { SalaSocket } from "../src/realtime/types.js";

function fakeSocket() {
  const rooms = new Set<string>();
  const socket = {
    rooms,
    join: (names: string | string[]) => void (Array.isArray(names) ? names : [names]).forEach((name) => rooms.add(name)),
    leave: (name: string) => void rooms.delete(name),
  };
  return { socket: socket as unknown as SalaSocket, rooms };
}

describe("SocketFollows", () => {
  it("keeps a partner followed when a new search lets go of the page that also showed them", () => {
    const { socket, rooms } = fakeSocket();
    const follows = new SocketFollows(socket);
    expect(follows.addPartners(["Zed"])).toBe(true);
    expect(follows.addPartners(["zed"])).toBe(false); // already followed: nothing new to subscribe to
    expect(follows.setPage("users", ["zed", "amy"], true)).toBe(true);
    follows.setPage("users", ["bob"], true);
    expect([...rooms].sort()).toEqual(["presence:bob", "presence:zed"]);
  });

  it("adds pages until watchMax, the earliest let go first; a fresh page replaces them", () => {
    const { socket, rooms } = fakeSocket();
    const follows = new SocketFollows(socket);
    const page = (from: number) => Array.from({ length: 100 }, (_, i) => `u${String(from + i).padStart(4, "0")}`);
    follows.setPage("users", page(0), true);
    for (let from = 100; from < 400; from += 100) follows.setPage("users", page(from), false);
    expect(rooms.size).toBe(LobbyLimits.watchMax);
    expect(rooms.has("presence:u0000")).toBe(false);
    expect(rooms.has("presence:u0399")).toBe(true);
    follows.setPage("users", ["solo"], true);
    expect([...rooms]).toEqual(["presence:solo"]);
  });

  it("caps partners and own rooms, letting go of the ones followed longest; a room left is let go unless paged", () => {
    const { socket, rooms } = fakeSocket();
    const follows = new SocketFollows(socket);
    for (let i = 0; i <= FOLLOWED_PARTNERS_MAX; i++) follows.addPartners([`p${i}`]);
    expect(rooms.has("presence:p0")).toBe(false);
    expect(rooms.has(`presence:p${FOLLOWED_PARTNERS_MAX}`)).toBe(true);
    for (let i = 0; i <= FOLLOWED_OWN_ROOMS_MAX; i++) follows.addOwnRooms([`r${i}`]);
    expect(rooms.has("lobby-room:r0")).toBe(false);
    expect([...rooms].filter((room) => room.startsWith("lobby-room:"))).toHaveLength(FOLLOWED_OWN_ROOMS_MAX);
    follows.setPage("rooms", ["r5"], true);
    follows.removeOwnRoom("r5");
    follows.removeOwnRoom("r6");
    expect(rooms.has("lobby-room:r5")).toBe(true); // still on the page shown
    expect(rooms.has("lobby-room:r6")).toBe(false);
  });
});
