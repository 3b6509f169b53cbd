import { describe, expect, it, vi } from "vitest";
import { createLogger } from "../src/logger.js";
import type { PasswordHasher } from "../src/auth/passwords.js";
import type { AttemptThrottle } from "../src/auth/throttle.js";
import type { LobbyFeed } from "../src/realtime/lobby-feed.js";
import { resumeRooms } from "../src/realtime/resume-rooms.js";
import { RoomService } from "../src/realtime/room-service.js";
import { SocketRooms, type SalaServer, type SalaSocket } from "../src/realtime/types.js";
import { MemoryRoomStore } from "../src/stores/memory/rooms.js";
import { Revision } from "../src/stores/memory/revision.js";

/** Room ids as the server makes them (12 random bytes, base64url). */
const ROOM = "AAAAAAAAAAAAAAAA";
const OTHER_ROOM = "BBBBBBBBBBBBBBBB";

/** A socket as far as joining needs one: its user and the Socket.IO rooms it is in. */
function fakeSocket(username: string, events: string[], auth: object = {}): SalaSocket {
  const rooms = new Set<string>();
  return {
    data: { username },
    handshake: { auth },
    rooms,
    join: (joined: string | string[]) => {
      for (const room of [joined].flat()) {
        events.push(`socket joined ${room}`);
        rooms.add(room);
      }
    },
    leave: (room: string) => rooms.delete(room),
  } as unknown as SalaSocket;
}

function service(events: string[], subscriptionsApplied: () => Promise<void>) {
  const rooms = new MemoryRoomStore(new Revision());
  const history = rooms.history.bind(rooms);
  vi.spyOn(rooms, "history").mockImplementation((roomId, query) => {
    events.push("history read");
    return history(roomId, query);
  });
  const emitter = { emit: () => true, except: () => emitter };
  const roomService = new RoomService({
    rooms,
    lobby: { onlineOf: async (usernames) => ({ rev: 0, online: usernames }) },
    io: { to: () => emitter } as unknown as SalaServer,
    lobbyFeed: { roomChanged: () => {} } as unknown as LobbyFeed,
    hasher: {} as PasswordHasher,
    roomPasswords: {} as AttemptThrottle,
    roomCreations: {} as AttemptThrottle,
    users: { get: async () => null },
    maxOwnedRooms: 0,
    joinHistory: 50,
    historyMax: 1000,
    historyMaxAgeMs: 0,
    subscriptionsApplied,
    logger: createLogger("n1", "silent"),
  });
  return { rooms, roomService };
}

describe("RoomService.join", () => {
  it("reads history only after the socket is in the room and the node's subscription to it is applied", async () => {
    const events: string[] = [];
    let applySubscriptions = () => {};
    const { rooms, roomService } = service(events, () => {
      events.push("waiting for subscriptions");
      return new Promise<void>((resolve) => {
        applySubscriptions = () => {
          events.push("subscriptions applied");
          resolve();
        };
      });
    });
    await rooms.create({ id: ROOM, name: "Room", owner: "ana", passwordHash: null, createdAt: 1 }, { id: 1, key: "k1" }, 0);

    const joined = roomService.join(fakeSocket("bia", events), ROOM, undefined);
    await vi.waitFor(() => expect(events).toContain("waiting for subscriptions"));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(events).not.toContain("history read");

    applySubscriptions();
    await expect(joined).resolves.toMatchObject({ room: { id: ROOM }, history: [] });
    expect(events).toEqual([`socket joined ${SocketRooms.room(ROOM)}`, "waiting for subscriptions", "subscriptions applied", "history read"]);
  });
});

describe("RoomService.join, again", () => {
  it("does not wait for subscriptions when the socket was in the room already", async () => {
    const subscriptionsApplied = vi.fn(() => Promise.resolve());
    const { rooms, roomService } = service([], subscriptionsApplied);
    await rooms.create({ id: ROOM, name: "Room", owner: "ana", passwordHash: null, createdAt: 1 }, { id: 1, key: "k1" }, 0);
    const socket = fakeSocket("bia", []);
    await roomService.join(socket, ROOM, undefined);
    await roomService.join(socket, ROOM, undefined);
    expect(subscriptionsApplied).toHaveBeenCalledTimes(1);
  });
});

describe("resumeRooms", () => {
  it("lets a reconnecting socket connect (and then ask for what it missed) only once the node hears its rooms", async () => {
    const events: string[] = [];
    let applySubscriptions = () => {};
    const rooms = new MemoryRoomStore(new Revision());
    await rooms.create({ id: ROOM, name: "Room", owner: "ana", passwordHash: null, createdAt: 1 }, { id: 1, key: "k1" }, 0);
    await rooms.admit(ROOM, "bia", null);
    const middleware = resumeRooms(rooms, () => new Promise<void>((resolve) => (applySubscriptions = resolve)));
    const connected = new Promise<unknown>((resolve) => void middleware(fakeSocket("bia", events, { rooms: [ROOM, OTHER_ROOM] }), resolve));

    await vi.waitFor(() => expect(events).toEqual([`socket joined ${SocketRooms.room(ROOM)}`])); // a member of ROOM only
    const early = await Promise.race([connected, new Promise((resolve) => setTimeout(() => resolve("still waiting"), 20))]);
    expect(early).toBe("still waiting");
    applySubscriptions();
    await expect(connected).resolves.toBeUndefined(); // next() without an error
  });

  it("does not wait for subscriptions when it puts the socket in no room (a first connection, or rooms left meanwhile)", async () => {
    const rooms = new MemoryRoomStore(new Revision());
    const subscriptionsApplied = vi.fn(() => new Promise<void>(() => {})); // would never resolve
    const middleware = resumeRooms(rooms, subscriptionsApplied);
    for (const auth of [{}, { rooms: [OTHER_ROOM] }]) {
      const connected = new Promise<unknown>((resolve) => void middleware(fakeSocket("bia", [], auth), resolve));
      await expect(connected).resolves.toBeUndefined();
    }
    expect(subscriptionsApplied).not.toHaveBeenCalled();
  });
});
