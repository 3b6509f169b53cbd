/**
 * A room's comings and goings as the client sees them. Joining: the server puts the socket in the
 * room before it reads the history it answers with, so live messages and keys can arrive before
 * the join's answer, and the client keeps them. Leaving: another tab of the same user leaving takes
 * this one back to the lobby. And the lobby snapshot is asked for when it does not come with a
 * connection. socket.io-client is replaced by a stand-in whose requests the test answers.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import type { LobbySnapshot, RoomKey, RoomMessage, RoomSummary } from "@sala/protocol";
import { encryptText } from "@sala/protocol/envelope";
import type { FeedItem } from "../src/lib/room.svelte.js";

const fake = await vi.hoisted(async () => {
  const { FakeSocket } = await import("./support/fake-socket.js");
  return { socket: new FakeSocket() };
});

vi.mock("socket.io-client", () => ({ io: () => fake.socket }));
vi.stubGlobal("window", { addEventListener: () => undefined, removeEventListener: () => undefined });
const { Chat } = await import("../src/lib/chat.svelte.js");

const ROOM_ID = "AAAAAAAAAAAAAAAA";
const OTHER_ROOM_ID = "BBBBBBBBBBBBBBBB";

function randomKey(id: number): RoomKey {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return { id, key: btoa(String.fromCharCode(...bytes)) };
}

const summary: RoomSummary = { id: ROOM_ID, name: "General", owner: "Bob", isPrivate: true, memberCount: 2, createdAt: 1_700_000_000_000 };

function message(seq: number, text: string, key: RoomKey, roomId = ROOM_ID): RoomMessage {
  return { roomId, seq, from: "Bob", ts: 1_700_000_000_000 + seq, msg: encryptText(text, roomId, key) };
}

/** A lobby snapshot with these users online and no room. */
const snapshot = (users: string[], rev: number): LobbySnapshot => ({
  counts: { users: users.length, rooms: 0 },
  users,
  partners: [],
  rooms: [],
  myRooms: [],
  rev,
  pageSize: 100,
});

const shown = (feed: FeedItem[]) => feed.flatMap((item) => (item.kind === "message" ? [`${item.seq}:${item.text}`] : []));

afterEach(() => fake.socket.handlers.clear());

describe("joining a room", () => {
  it("keeps messages and keys that arrive before the join's answer, each message once", async () => {
    const chat = new Chat("Ana", () => undefined);
    const key1 = randomKey(1);
    const key2 = randomKey(2);
    fake.socket.answer = async (event) => {
      expect(event).toBe("join_room");
      // Live, before the answer: one message also in the history, one after it, one for
      // another room, and a newer key with a message sealed under it.
      fake.socket.deliver("text", message(5, "five", key1));
      fake.socket.deliver("text", message(6, "six", key1));
      fake.socket.deliver("text", message(1, "elsewhere", key1, OTHER_ROOM_ID));
      fake.socket.deliver("room_key", { roomId: ROOM_ID, key: key2 });
      fake.socket.deliver("text", message(7, "seven", key2));
      return { ok: true, room: summary, members: ["Ana", "Bob"], key: key1, history: [message(4, "four", key1), message(5, "five", key1)], keys: [key1] };
    };
    expect(await chat.joinRoom(ROOM_ID)).toBeNull();
    expect(shown(chat.room!.feed)).toEqual(["4:four", "5:five", "6:six", "7:seven"]);

    // Once in, live messages go straight to the room.
    fake.socket.deliver("text", message(8, "eight", key2));
    expect(shown(chat.room!.feed).at(-1)).toBe("8:eight");
    chat.close();
  });

  it("forgets what arrived for a join that was refused", async () => {
    const chat = new Chat("Ana", () => undefined);
    const key1 = randomKey(1);
    fake.socket.answer = async () => {
      fake.socket.deliver("text", message(3, "three", key1));
      return { ok: false, error: { code: "WRONG_PASSWORD", message: "Wrong room password" } };
    };
    expect(await chat.joinRoom(ROOM_ID, "guess")).not.toBeNull();
    expect(chat.room).toBeNull();

    fake.socket.answer = async () => ({ ok: true, room: summary, members: ["Ana", "Bob"], key: key1, history: [], keys: [key1] });
    expect(await chat.joinRoom(ROOM_ID, "right")).toBeNull();
    expect(shown(chat.room!.feed)).toEqual([]);
    chat.close();
  });

  it("goes back to the lobby when the user leaves the room in another tab, not when someone else leaves", async () => {
    const chat = new Chat("Ana", () => undefined);
    const key1 = randomKey(1);
    fake.socket.answer = async () => ({ ok: true, room: summary, members: ["Ana", "Bob"], key: key1, history: [], keys: [key1] });
    expect(await chat.joinRoom(ROOM_ID)).toBeNull();

    fake.socket.deliver("member_left", { roomId: ROOM_ID, username: "Bob", reason: "left" });
    expect(chat.room?.members).toEqual(["Ana"]);
    fake.socket.deliver("member_left", { roomId: ROOM_ID, username: "ana", reason: "left" });
    expect(chat.room).toBeNull();
    expect(chat.lobbyNotice).toEqual({ key: "room.youLeftElsewhere", params: { room: "General" } });
    chat.close();
  });

  it("asks for the lobby when the server's snapshot is overdue after connecting, and only then", async () => {
    vi.useFakeTimers();
    try {
      const chat = new Chat("Ana", () => undefined);
      const asked: string[] = [];
      fake.socket.answer = async (event) => {
        asked.push(event);
        return event === "lobby" ? { ok: true, ...snapshot(["Ana", "Bob"], 3) } : { ok: false, error: { code: "UNAVAILABLE", message: "" } };
      };
      // The server could not read the lobby: no snapshot follows the connection.
      fake.socket.deliver("connect", undefined);
      await vi.advanceTimersByTimeAsync(2500);
      expect(asked).not.toContain("lobby");
      await vi.advanceTimersByTimeAsync(1000);
      expect(asked.filter((event) => event === "lobby")).toHaveLength(1);
      expect(chat.lobby.users).toEqual(["Ana", "Bob"]);

      // The snapshot came with the connection: nothing to ask.
      asked.length = 0;
      fake.socket.deliver("connect", undefined);
      fake.socket.deliver("lobby", snapshot(["Ana"], 4));
      await vi.advanceTimersByTimeAsync(5000);
      expect(asked).not.toContain("lobby");
      expect(chat.lobby.users).toEqual(["Ana"]);
      chat.close();
    } finally {
      vi.useRealTimers();
    }
  });
});
