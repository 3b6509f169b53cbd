/**
 * The chat's side of a message sent while the connection is down (Sala issue 17, item 8): it
 * shows as pending at once, is not emitted before the room is rejoined after the reconnect (a
 * `text` sent first got NOT_MEMBER), goes out then with its id, and ends delivered once. And the
 * owner's barred list (item 2): filled by the join, kept live by `ban_changed`, emptied by unban.
 * socket.io-client is replaced by a stand-in whose requests the test answers.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { RoomKey, RoomMessage, RoomSummary } from "@sala/protocol";
import type { FeedItem } from "../src/lib/room.svelte.js";

const fake = await vi.hoisted(async () => {
  const { FakeSocket } = await import("./support/fake-socket.js");
  return { socket: new FakeSocket() };
});

vi.mock("socket.io-client", () => ({ io: () => fake.socket }));
vi.stubGlobal("window", { addEventListener: () => undefined, removeEventListener: () => undefined });
const { Chat } = await import("../src/lib/chat.svelte.js");

const ROOM_ID = "AAAAAAAAAAAAAAAA";
const key1 = randomKey(1);
const summary: RoomSummary = { id: ROOM_ID, name: "General", owner: "Ana", isPrivate: false, memberCount: 2, createdAt: 1_700_000_000_000 };

function randomKey(id: number): RoomKey {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return { id, key: btoa(String.fromCharCode(...bytes)) };
}

const joined = (history: RoomMessage[] = [], banned: string[] = []) => ({ ok: true, room: summary, members: ["Ana", "Bob"], key: key1, history, keys: [key1], banned });
const shown = (feed: FeedItem[]) => feed.flatMap((item) => (item.kind === "message" ? [`${item.seq}:${item.from}:${item.text}`] : []));
/** The room requests made, in order (the lobby and conversations come and go around them). */
const roomRequests = () => fake.socket.requests.filter((request) => ["join_room", "history", "text"].includes(request.event)).map((request) => request.event);
const settle = () => new Promise<void>((resolve) => setTimeout(resolve, 0));
/** Answers to what the chat asks around the room (the lobby when overdue, the conversations). */
const aside = (event: string) => (event === "lobby" ? { ok: true, counts: { users: 0, rooms: 0 }, users: [], partners: [], rooms: [], myRooms: [], rev: 0, pageSize: 100 } : { ok: true, conversations: [] });

/** A server that numbers messages from `next` and answers everything else plainly. */
function server(next = 1) {
  const posted: { id: unknown; msg: string; seq: number }[] = [];
  fake.socket.answer = async (event, payload) => {
    if (event === "join_room") return joined();
    if (event === "history") return { ok: true, messages: [], keys: [] };
    if (event === "lobby" || event === "conversations") return aside(event);
    if (event === "text") {
      const seq = next++;
      posted.push({ id: payload.id, msg: String(payload.msg), seq });
      return { ok: true, seq, ts: 1_700_000_000_000 + seq };
    }
    return { ok: true };
  };
  return posted;
}

async function chatInRoom(banned: string[] = []) {
  const chat = new Chat("Ana", () => undefined);
  fake.socket.deliver("connect");
  fake.socket.answer = async (event) => (event === "join_room" ? joined([], banned) : aside(event));
  expect(await chat.joinRoom(ROOM_ID)).toBeNull();
  fake.socket.requests.length = 0;
  return chat;
}

beforeEach(() => {
  fake.socket.connected = true;
  fake.socket.requests.length = 0;
});
afterEach(() => {
  fake.socket.handlers.clear();
  vi.useRealTimers();
});

describe("a message sent while the connection is down", () => {
  it("shows as pending at once, and is sent only after the room is rejoined, with its id, once", async () => {
    const chat = await chatInRoom();
    const posted = server(5);
    fake.socket.deliver("disconnect", "transport close");
    chat.send("sent while the node restarts");
    await settle();
    const room = chat.room!;
    expect(room.outbox.items.map((item) => [item.text, item.state])).toEqual([["sent while the node restarts", "queued"]]);
    expect(room.outbox.isOpen).toBe(false);
    expect(roomRequests()).toEqual([]); // nothing emitted into a dead socket

    fake.socket.deliver("connect");
    await vi.waitFor(() => expect(room.outbox.items).toEqual([]));
    // Rejoined (and caught up) first; the message after, never before.
    expect(roomRequests()).toEqual(["join_room", "history", "text"]);
    expect(posted).toHaveLength(1);
    expect(posted[0]!.id).toMatch(/^[0-9a-f]{24}$/);
    expect(shown(room.feed)).toEqual(["5:Ana:sent while the node restarts"]);

    // Its live copy arriving after the answer changes nothing.
    fake.socket.deliver("text", { roomId: ROOM_ID, seq: 5, from: "Ana", ts: 1, msg: posted[0]!.msg });
    expect(shown(room.feed)).toEqual(["5:Ana:sent while the node restarts"]);
    chat.close();
  });

  it("sends every pending message in order after the reconnect", async () => {
    const chat = await chatInRoom();
    const posted = server(1);
    fake.socket.deliver("disconnect", "transport close");
    for (const text of ["um", "dois", "três"]) chat.send(text);
    fake.socket.deliver("connect");
    await vi.waitFor(() => expect(chat.room!.outbox.size).toBe(0));
    expect(shown(chat.room!.feed)).toEqual(["1:Ana:um", "2:Ana:dois", "3:Ana:três"]);
    expect(new Set(posted.map((post) => post.id)).size).toBe(3);
    chat.close();
  });

  it("does not send again a message the server took before the drop (its answer lost): the history has it", async () => {
    const chat = await chatInRoom();
    const room = chat.room!;
    let envelope = "";
    // The server takes the message, then the connection drops before the answer.
    fake.socket.answer = async (event, payload) => {
      if (event !== "text") return aside(event);
      envelope = String(payload.msg);
      fake.socket.deliver("disconnect", "transport close");
      return { ok: false, error: { code: "UNAVAILABLE", message: "socket has been disconnected" } };
    };
    chat.send("answer lost");
    await vi.waitFor(() => expect(envelope).not.toBe(""));
    await settle();
    expect(room.outbox.items.map((item) => item.state)).toEqual(["queued"]);

    const posted = server(8);
    const stored: RoomMessage = { roomId: ROOM_ID, seq: 7, from: "Ana", ts: 1_700_000_000_007, msg: envelope };
    const answer = fake.socket.answer;
    fake.socket.answer = async (event, payload) => (event === "history" ? { ok: true, messages: [stored], keys: [key1] } : answer(event, payload));
    fake.socket.deliver("connect");
    await vi.waitFor(() => expect(room.outbox.isOpen).toBe(true));
    await settle();
    expect(room.outbox.items).toEqual([]);
    expect(posted).toEqual([]);
    expect(shown(room.feed)).toEqual(["7:Ana:answer lost"]);
    chat.close();
  });

  it("retries a rejoin that failed for a passing reason instead of leaving the room", async () => {
    vi.useFakeTimers();
    const chat = await chatInRoom();
    server(1);
    const normal = fake.socket.answer;
    let refusals = 2;
    fake.socket.answer = async (event, payload) =>
      event === "join_room" && refusals-- > 0 ? { ok: false, error: { code: "UNAVAILABLE", message: "" } } : normal(event, payload);
    fake.socket.deliver("disconnect", "transport close");
    chat.send("still here");
    fake.socket.deliver("connect");
    await vi.advanceTimersByTimeAsync(5000);
    expect(chat.room).not.toBeNull();
    expect(roomRequests()).toEqual(["join_room", "join_room", "join_room", "history", "text"]);
    expect(chat.room!.outbox.size).toBe(0);
    chat.close();
  });

  it("waits the retryAfterMs the server asks for between rejoins, and gives the room up after five", async () => {
    vi.useFakeTimers();
    const chat = await chatInRoom();
    fake.socket.answer = async (event) => (event === "join_room" ? { ok: false, error: { code: "BUSY", message: "", retryAfterMs: 3000 } } : aside(event));
    fake.socket.deliver("disconnect", "transport close");
    fake.socket.deliver("connect");
    await vi.advanceTimersByTimeAsync(2900);
    expect(roomRequests()).toEqual(["join_room"]);
    await vi.advanceTimersByTimeAsync(200);
    expect(roomRequests()).toEqual(["join_room", "join_room"]);
    await vi.advanceTimersByTimeAsync(3 * 3000);
    expect(roomRequests()).toHaveLength(5);
    expect(chat.room).toBeNull();
    expect(chat.lobbyNotice?.key).toBe("room.rejoinFailed");
    await vi.advanceTimersByTimeAsync(10_000);
    expect(roomRequests()).toHaveLength(5);
    chat.close();
  });

  it("stops trying a rejoin once the connection it was for is gone (the next one starts over)", async () => {
    vi.useFakeTimers();
    const chat = await chatInRoom();
    fake.socket.answer = async (event) => (event === "join_room" ? { ok: false, error: { code: "UNAVAILABLE", message: "", retryAfterMs: 1000 } } : aside(event));
    fake.socket.deliver("disconnect", "transport close");
    fake.socket.deliver("connect");
    await vi.advanceTimersByTimeAsync(500);
    expect(roomRequests()).toEqual(["join_room"]);
    fake.socket.deliver("disconnect", "transport close"); // during the wait
    await vi.advanceTimersByTimeAsync(20_000);
    expect(roomRequests()).toEqual(["join_room"]);
    // Neither tried again nor given up: the room waits for the next connection.
    expect(chat.room).not.toBeNull();
    expect(chat.lobbyNotice).toBeNull();

    server(1);
    fake.socket.deliver("connect");
    await vi.advanceTimersByTimeAsync(1000);
    expect(roomRequests()).toEqual(["join_room", "join_room", "history"]);
    expect(chat.room!.outbox.isOpen).toBe(true);
    chat.close();
  });

  it("fails with NOT_MEMBER after the rejoin (kicked meanwhile), offers a retry with the same id", async () => {
    const chat = await chatInRoom();
    const room = chat.room!;
    const ids: unknown[] = [];
    fake.socket.answer = async (event, payload) => {
      if (event === "text") {
        ids.push(payload.id);
        return { ok: false, error: { code: "NOT_MEMBER", message: "" } };
      }
      return aside(event);
    };
    chat.send("too late");
    await vi.waitFor(() => expect(room.outbox.items[0]?.state).toBe("failed"));
    expect(room.outbox.items[0]!.error?.code).toBe("NOT_MEMBER");

    const posted = server(3);
    room.outbox.retry(room.outbox.items[0]!.id);
    await vi.waitFor(() => expect(room.outbox.size).toBe(0));
    expect(posted.map((post) => post.id)).toEqual([ids[0]]);
    expect(shown(room.feed)).toEqual(["3:Ana:too late"]);
    chat.close();
  });

  it("shows in the lobby the messages of a room it was taken out of before they were sent", async () => {
    const chat = await chatInRoom();
    fake.socket.deliver("disconnect", "transport close");
    chat.send("never sent");
    fake.socket.answer = async (event) => (event === "join_room" ? { ok: false, error: { code: "BANNED", message: "" } } : aside(event));
    fake.socket.deliver("connect");
    await vi.waitFor(() => expect(chat.room).toBeNull());
    expect(chat.lobbyNotice?.key).toBe("room.rejoinFailed");
    expect(chat.unsent).toEqual({ room: "General", texts: ["never sent"] });
    expect(roomRequests()).not.toContain("text");
    chat.close();
  });
});

describe("the owner's barred list", () => {
  it("comes with the join, follows ban_changed for this room only, and loses a name on unban", async () => {
    const chat = await chatInRoom(["zed"]);
    const room = chat.room!;
    expect(room.banned).toEqual(["zed"]);
    fake.socket.deliver("ban_changed", { roomId: ROOM_ID, username: "Bob", banned: true });
    fake.socket.deliver("ban_changed", { roomId: "BBBBBBBBBBBBBBBB", username: "Carol", banned: true });
    expect(room.banned).toEqual(["Bob", "zed"]);

    server();
    expect(await chat.unban("Bob")).toBeNull();
    expect(fake.socket.requests.filter((request) => request.event === "unban").map((request) => request.payload)).toEqual([
      { roomId: ROOM_ID, username: "Bob" },
    ]);
    expect(room.banned).toEqual(["zed"]);
    fake.socket.deliver("ban_changed", { roomId: ROOM_ID, username: "zed", banned: false });
    expect(room.banned).toEqual([]);
    chat.close();
  });

  it("keeps the list when unban is refused, and says why", async () => {
    const chat = await chatInRoom(["Bob"]);
    fake.socket.answer = async () => ({ ok: false, error: { code: "NOT_OWNER", message: "" } });
    expect(await chat.unban("Bob")).toBe("Only the room's owner can do that.");
    expect(chat.room!.banned).toEqual(["Bob"]);
    chat.close();
  });

  it("shows a kicked user as barred only when the server says so", async () => {
    const chat = await chatInRoom();
    server();
    expect(await chat.kick("Bob")).toBeNull();
    expect(chat.room!.banned).toEqual([]);
    fake.socket.deliver("ban_changed", { roomId: ROOM_ID, username: "Bob", banned: true });
    expect(chat.room!.banned).toEqual(["Bob"]);
    chat.close();
  });
});

