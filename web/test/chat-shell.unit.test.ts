/**
 * Issue 21's app shell, in the chat model: the user is in several rooms at once — those the server
 * says they are a member of are joined at every connection, without being shown — and messages of
 * a room not shown count unread (mentions apart) until it is shown; what was read is remembered on
 * the device, so a reload counts only what came since. socket.io-client is replaced by a stand-in
 * whose requests the test answers.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { RoomKey, RoomMessage, RoomSummary } from "@sala/protocol";
import { encryptText } from "@sala/protocol/envelope";
import { mentions } from "../src/lib/attention.js";

const fake = await vi.hoisted(async () => {
  const { FakeSocket } = await import("./support/fake-socket.js");
  return { socket: new FakeSocket() };
});

vi.mock("socket.io-client", () => ({ io: () => fake.socket }));
vi.stubGlobal("window", { addEventListener: () => undefined, removeEventListener: () => undefined });
const storage = new Map<string, string>();
vi.stubGlobal("localStorage", {
  getItem: (key: string) => storage.get(key) ?? null,
  setItem: (key: string, value: string) => void storage.set(key, value),
  removeItem: (key: string) => void storage.delete(key),
});
const { Chat } = await import("../src/lib/chat.svelte.js");

const key = { id: 1, key: btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32)))) } satisfies RoomKey;
const room = (id: string, name: string): RoomSummary => ({ id, name, owner: "Bob", isPrivate: false, memberCount: 2, createdAt: 1_700_000_000_000 });
const GENERAL = room("GGGGGGGGGGGGGGGG", "General");
const RANDOM = room("RRRRRRRRRRRRRRRR", "Random");
const message = (roomId: string, seq: number, text: string, from = "Bob"): RoomMessage => ({ roomId, seq, from, ts: 1_700_000_000_000 + seq, msg: encryptText(text, roomId, key) });

/** The server: these rooms, each with this history; every other request answers ok. */
function server(history: Record<string, RoomMessage[]>): void {
  fake.socket.myRooms = [GENERAL, RANDOM];
  fake.socket.answer = async (event, payload) => {
    if (event === "join_room") {
      const summary = [GENERAL, RANDOM].find((r) => r.id === payload.roomId)!;
      return { ok: true, room: summary, members: ["Ana", "Bob"], online: ["Ana", "Bob"], key, history: history[summary.id] ?? [], keys: [key], banned: [] };
    }
    if (event === "history") return { ok: true, messages: [], keys: [] };
    return { ok: true, conversations: [] };
  };
}

const joins = () => fake.socket.requests.filter((request) => request.event === "join_room").map((request) => request.payload);
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

beforeEach(() => {
  storage.clear();
  fake.socket.requests.length = 0;
});
afterEach(() => fake.socket.handlers.clear());

describe("the rooms of the user", () => {
  it("are joined at every connection without being shown, with no password", async () => {
    server({});
    const chat = new Chat("Ana", () => undefined);
    fake.socket.deliver("connect");
    await vi.waitFor(() => expect(chat.joinedRooms().map((r) => r.summary.name)).toEqual(["General", "Random"]));
    // `resume`: back in as a member only (a leave made meanwhile elsewhere stands).
    expect(joins()).toEqual([
      { roomId: GENERAL.id, resume: true },
      { roomId: RANDOM.id, resume: true },
    ]);
    expect(chat.viewing).toBeNull();
    expect(chat.room).toBeNull();
    chat.close();
  });

  it("count the messages of a room not shown as unread, mentions apart, until it is shown", async () => {
    server({});
    const chat = new Chat("Ana", () => undefined);
    fake.socket.deliver("connect");
    await vi.waitFor(() => expect(chat.joinedRooms()).toHaveLength(2));
    expect(await chat.joinRoom(GENERAL.id)).toBeNull(); // already in: shown, no second join
    expect(joins()).toHaveLength(2);

    fake.socket.deliver("text", message(RANDOM.id, 1, "hello all"));
    fake.socket.deliver("text", message(RANDOM.id, 2, "@ana look at this"));
    fake.socket.deliver("text", message(GENERAL.id, 1, "seen at once")); // the room shown
    const random = chat.rooms[RANDOM.id]!;
    expect([random.unread, random.mentioned]).toEqual([2, 1]);
    expect(chat.rooms[GENERAL.id]!.unread).toBe(0);
    expect(chat.totalUnread()).toBe(2);

    chat.setVisible(false); // the tab is hidden: the room shown counts too
    fake.socket.deliver("text", message(GENERAL.id, 2, "while away"));
    expect(chat.rooms[GENERAL.id]!.unread).toBe(1);
    chat.setVisible(true);
    expect(chat.rooms[GENERAL.id]!.unread).toBe(0);

    expect(await chat.joinRoom(RANDOM.id)).toBeNull();
    expect([random.unread, random.mentioned]).toEqual([0, 0]);
    expect(chat.totalUnread()).toBe(0);
    chat.close();
  });

  it("stop counting a message deleted before it was read, and its mention; a read one changes nothing", async () => {
    server({});
    const chat = new Chat("Ana", () => undefined);
    fake.socket.deliver("connect");
    await vi.waitFor(() => expect(chat.joinedRooms()).toHaveLength(2));
    expect(await chat.joinRoom(GENERAL.id)).toBeNull();
    fake.socket.deliver("text", message(GENERAL.id, 1, "read at once")); // the room shown

    fake.socket.deliver("text", message(RANDOM.id, 1, "hello all"));
    fake.socket.deliver("text", message(RANDOM.id, 2, "@ana look at this"));
    fake.socket.deliver("text", message(RANDOM.id, 3, "and @Ana again"));
    const random = chat.rooms[RANDOM.id]!;
    expect([random.unread, random.mentioned, chat.totalUnread()]).toEqual([3, 2, 3]);

    fake.socket.deliver("message_deleted", { roomId: RANDOM.id, seq: 2 });
    expect([random.unread, random.mentioned, chat.totalUnread()]).toEqual([2, 1, 2]);
    fake.socket.deliver("message_deleted", { roomId: RANDOM.id, seq: 2 }); // told twice: counted once
    expect([random.unread, random.mentioned]).toEqual([2, 1]);
    fake.socket.deliver("message_deleted", { roomId: RANDOM.id, seq: 1 }); // no mention: the count only
    expect([random.unread, random.mentioned, chat.totalUnread()]).toEqual([1, 1, 1]);
    fake.socket.deliver("message_deleted", { roomId: RANDOM.id, seq: 3 });
    expect([random.unread, random.mentioned, chat.totalUnread()]).toEqual([0, 0, 0]);

    // Read already (the room shown), or a message never held here: nothing to take off.
    fake.socket.deliver("text", message(RANDOM.id, 4, "still unread"));
    fake.socket.deliver("message_deleted", { roomId: GENERAL.id, seq: 1 });
    fake.socket.deliver("message_deleted", { roomId: RANDOM.id, seq: 99 });
    expect([chat.rooms[GENERAL.id]!.unread, random.unread, chat.totalUnread()]).toEqual([0, 1, 1]);
    chat.close();
  });

  it("remember on the device what was read, so that after a reload only what came since is unread", async () => {
    server({ [RANDOM.id]: [message(RANDOM.id, 1, "one"), message(RANDOM.id, 2, "two")] });
    const before = new Chat("Ana", () => undefined);
    fake.socket.deliver("connect");
    await vi.waitFor(() => expect(before.joinedRooms()).toHaveLength(2));
    expect(before.rooms[RANDOM.id]!.unread).toBe(2); // never read on this device
    await before.joinRoom(RANDOM.id);
    before.close();
    fake.socket.handlers.clear();

    // The reload: two more messages came meanwhile, one of them ours (never unread).
    server({ [RANDOM.id]: [message(RANDOM.id, 1, "one"), message(RANDOM.id, 2, "two"), message(RANDOM.id, 3, "three"), message(RANDOM.id, 4, "mine", "Ana")] });
    const after = new Chat("Ana", () => undefined);
    fake.socket.deliver("connect");
    await vi.waitFor(() => expect(after.joinedRooms()).toHaveLength(2));
    expect(after.rooms[RANDOM.id]!.unread).toBe(1);
    after.close();
  });

  it("are resumed after a reconnect, and one left meanwhile on another device is dropped with a notice", async () => {
    server({});
    const chat = new Chat("Ana", () => undefined);
    fake.socket.deliver("connect");
    await vi.waitFor(() => expect(chat.joinedRooms()).toHaveLength(2));
    await chat.joinRoom(RANDOM.id);
    fake.socket.deliver("disconnect");
    // Meanwhile Ana left General on her phone: the server no longer lets this tab resume it.
    fake.socket.myRooms = [RANDOM];
    const answer = fake.socket.answer;
    fake.socket.answer = async (event, payload) =>
      event === "join_room" && payload.roomId === GENERAL.id ? { ok: false, error: { code: "NOT_MEMBER", message: "" } } : answer(event, payload);
    fake.socket.requests.length = 0;
    fake.socket.deliver("connect");
    await vi.waitFor(() => expect(Object.keys(chat.rooms)).toEqual([RANDOM.id]));
    expect(chat.lobbyNotice).toEqual({ key: "room.youLeftElsewhere", params: { room: "General" } });
    expect(chat.viewing).toBe(RANDOM.id);
    // The room shown was resumed first, and every rejoin asked to resume, never to be let in anew.
    expect(joins()[0]).toEqual({ roomId: RANDOM.id, resume: true });
    expect(joins().every((payload) => payload.resume === true)).toBe(true);
    chat.close();
  });

  it("stay joined when the lobby is shown; leaving is explicit and forgets the room", async () => {
    server({});
    const chat = new Chat("Ana", () => undefined);
    fake.socket.deliver("connect");
    await vi.waitFor(() => expect(chat.joinedRooms()).toHaveLength(2));
    await chat.joinRoom(GENERAL.id);
    chat.showLobby();
    expect(chat.room).toBeNull();
    expect(Object.keys(chat.rooms)).toHaveLength(2);
    await chat.joinRoom(GENERAL.id);
    chat.leaveRoom();
    await settle();
    expect(Object.keys(chat.rooms)).toEqual([RANDOM.id]);
    expect(chat.viewing).toBeNull();
    expect(fake.socket.requests.filter((request) => request.event === "leave_room").map((request) => request.payload)).toEqual([{ roomId: GENERAL.id }]);
    chat.close();
  });
});

describe("mentions", () => {
  it("find @name in any case, not inside a longer name or an address", () => {
    expect(mentions("@ana look", "Ana")).toBe(true);
    expect(mentions("hi @ANA.", "ana")).toBe(true);
    expect(mentions("(@ana)", "ana")).toBe(true);
    expect(mentions("@anabel look", "ana")).toBe(false);
    expect(mentions("mail bob@ana", "ana")).toBe(false);
    expect(mentions("@ana.b is another", "ana")).toBe(false);
    expect(mentions("@a.n", "a.n")).toBe(true);
    expect(mentions("@axn", "a.n")).toBe(false);
    expect(mentions(null, "ana")).toBe(false);
  });
});
