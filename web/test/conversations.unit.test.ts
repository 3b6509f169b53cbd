import { describe, expect, it } from "vitest";
import { conversationId, type OpenedConversation, type RoomKey, type Whisper } from "@sala/protocol";
import { encryptText } from "@sala/protocol/envelope";
import { Conversations } from "../src/lib/conversations.svelte.js";

const ME = "Alice";
const keyOf = (id: number): RoomKey => ({ id, key: btoa(String.fromCharCode(...Array.from({ length: 32 }, (_, i) => (i * 7 + id) % 256))) });
const KEY = keyOf(1);

/** A whisper between `from` and `to`, encrypted under `key` for their conversation. */
function whisper(from: string, to: string, seq: number, text = `${from}→${to}#${seq}`, key = KEY): Whisper {
  const id = conversationId(from, to);
  return { conversationId: id, seq, from, to, ts: 1000 + seq, msg: encryptText(text, id, key) };
}

function opened(peer: string, history: Whisper[] = [], unread = 0, key = KEY): OpenedConversation {
  const lastSeq = history.at(-1)?.seq ?? 0;
  return {
    conversation: { id: conversationId(ME, peer), with: peer, unread, lastSeq, lastTs: history.at(-1)?.ts ?? 0 },
    key,
    keys: [key],
    history,
  };
}

/** A model in which the threads with `peers` have been opened (keys held). */
function withKeys(...peers: string[]): Conversations {
  const conversations = new Conversations();
  for (const peer of peers) conversations.opened(opened(peer), ME);
  return conversations;
}

const texts = (conversations: Conversations, user: string) =>
  conversations.list().find((thread) => thread.user.toLowerCase() === user.toLowerCase())?.lines.map((line) => line.text);

describe("Conversations threads", () => {
  it("starts empty", () => {
    const conversations = new Conversations();
    expect(conversations.list()).toEqual([]);
    expect(conversations.totalUnread()).toBe(0);
    expect(conversations.current()).toBeNull();
  });

  it("decrypts whispers into one thread per correspondent, keyed case-insensitively, in seq order, once each", () => {
    const conversations = withKeys("Bob");
    conversations.receive(whisper("Bob", ME, 2, "again"), ME);
    conversations.receive(whisper("BOB", ME, 1, "hi"), ME);
    expect(conversations.receive(whisper("bob", "alice", 2, "again"), ME)).toBeNull(); // a repeat
    conversations.receive(whisper(ME, "bob", 3, "mine"), ME);
    const threads = conversations.list();
    expect(threads).toHaveLength(1);
    expect(threads[0]!.user).toBe("Bob");
    expect(threads[0]!.lines.map((line) => [line.seq, line.text, line.incoming])).toEqual([
      [1, "hi", true],
      [2, "again", true],
      [3, "mine", false],
    ]);
    expect(new Set(threads[0]!.lines.map((line) => line.id)).size).toBe(3);
  });

  it("shows a whisper it cannot decrypt as such, never as ciphertext", () => {
    const conversations = withKeys("Bob");
    const forged = whisper("Bob", ME, 1, "forged", { id: 1, key: keyOf(9).key });
    const genuine = whisper("Bob", ME, 2, "tampered");
    const parts = genuine.msg.split(".");
    parts[3] = (parts[3]!.startsWith("A") ? "B" : "A") + parts[3]!.slice(1);
    const tampered = { ...genuine, msg: parts.join(".") };
    const moved = { ...whisper("Bob", "Carol", 3, "for carol"), to: ME };
    for (const w of [forged, tampered, moved]) conversations.receive(w, ME);
    expect(texts(conversations, "Bob")).toEqual([null, null, null]);
  });

  it("keeps a whisper for a thread without keys until they come, then decrypts it", () => {
    const conversations = new Conversations();
    const line = conversations.receive(whisper("Dave", ME, 1, "before the key"), ME);
    expect(line?.text).toBeNull();
    conversations.opened(opened("Dave", [whisper("Dave", ME, 1, "before the key")], 1), ME);
    expect(texts(conversations, "Dave")).toEqual(["before the key"]);
  });

  it("encrypts for the thread's conversation under its newest key, only once opened", () => {
    const conversations = new Conversations();
    expect(conversations.encrypt("Bob", "hi")).toBeNull();
    conversations.opened(opened("Bob"), ME);
    const envelope = conversations.encrypt("bob", "hi")!;
    expect(envelope.startsWith("v1.1.")).toBe(true);
    conversations.receive({ ...whisper(ME, "Bob", 1), msg: envelope }, ME);
    expect(texts(conversations, "Bob")).toEqual(["hi"]);
    conversations.addPage("Bob", [], [keyOf(2)], ME);
    expect(conversations.encrypt("Bob", "later")!.startsWith("v1.2.")).toBe(true);
  });

  it("keeps threads for users named like Object.prototype members", () => {
    const conversations = new Conversations();
    for (const [i, name] of ["constructor", "toString", "valueOf", "hasOwnProperty", "__proto__"].entries()) {
      conversations.receive(whisper(name, ME, i + 1), ME);
    }
    expect(conversations.list().map((thread) => thread.user)).toEqual(["__proto__", "hasOwnProperty", "valueOf", "toString", "constructor"]);
    expect(conversations.totalUnread()).toBe(15);
  });
});

describe("Conversations unread counts", () => {
  it("loads the server's counts after a reload, and lists most recent first", () => {
    const conversations = new Conversations();
    conversations.load([
      { id: conversationId(ME, "Bob"), with: "Bob", unread: 2, lastSeq: 5, lastTs: 10 },
      { id: conversationId(ME, "Carol"), with: "Carol", unread: 0, lastSeq: 3, lastTs: 20 },
    ]);
    expect(conversations.list().map((thread) => [thread.user, thread.unread])).toEqual([["Carol", 0], ["Bob", 2]]);
    expect(conversations.totalUnread()).toBe(2);
  });

  it("counts incoming whispers after the read position, and none after our own", () => {
    const conversations = withKeys("Bob", "Carol");
    conversations.receive(whisper("Bob", ME, 1), ME);
    conversations.receive(whisper("Bob", ME, 2), ME);
    conversations.receive(whisper("Carol", ME, 1), ME);
    expect(conversations.totalUnread()).toBe(3);
    conversations.receive(whisper(ME, "Bob", 3), ME); // replying reads the thread
    expect(Object.fromEntries(conversations.list().map((t) => [t.user, t.unread]))).toEqual({ Bob: 0, Carol: 1 });
  });

  it("clears up to the seq read on another device, never backwards", () => {
    const conversations = withKeys("Bob");
    for (let seq = 1; seq <= 4; seq++) conversations.receive(whisper("Bob", ME, seq), ME);
    conversations.read("bob", 3);
    expect(conversations.totalUnread()).toBe(1);
    conversations.read("Bob", 1);
    expect(conversations.totalUnread()).toBe(1);
    conversations.read("Bob", 4);
    expect(conversations.totalUnread()).toBe(0);
  });

  it("does not count whispers arriving in the open thread", () => {
    const conversations = withKeys("Bob", "Carol");
    conversations.select("bob");
    conversations.receive(whisper("Bob", ME, 1), ME);
    conversations.receive(whisper("Carol", ME, 1), ME);
    expect(conversations.current()?.unread).toBe(0);
    expect(conversations.totalUnread()).toBe(1);
    conversations.close();
    conversations.receive(whisper("Bob", ME, 2), ME);
    expect(conversations.totalUnread()).toBe(2);
  });

  it("takes the server's spelling of a name typed in another case", () => {
    const conversations = new Conversations();
    conversations.select("BOB");
    conversations.opened(opened("Bob"), ME);
    expect(conversations.open).toBe("Bob");
    expect(conversations.list().map((thread) => thread.user)).toEqual(["Bob"]);
  });

  it("discards a thread the server would not open, but never one with whispers", () => {
    const conversations = new Conversations();
    conversations.select("nobody");
    conversations.discard("NOBODY");
    expect(conversations.list()).toEqual([]);
    expect(conversations.current()).toBeNull();
    conversations.receive(whisper("Bob", ME, 1), ME);
    conversations.discard("Bob");
    expect(conversations.list()).toHaveLength(1);
  });

  it("opens an empty thread for someone we have not talked to yet", () => {
    const conversations = new Conversations();
    conversations.select("Erin");
    expect(conversations.current()).toMatchObject({ user: "Erin", lines: [], unread: 0 });
  });
});
