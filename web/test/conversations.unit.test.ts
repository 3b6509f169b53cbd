import { describe, expect, it } from "vitest";
import type { Whisper } from "@sala/protocol";
import { Conversations } from "../src/lib/conversations.svelte.js";

const ME = "Alice";

function whisper(from: string, to: string, ts: number, msg = `${from}→${to}@${ts}`): Whisper {
  return { from, to, ts, msg };
}

describe("Conversations threads", () => {
  it("starts empty", () => {
    const conversations = new Conversations();
    expect(conversations.list()).toEqual([]);
    expect(conversations.totalUnread()).toBe(0);
    expect(conversations.current()).toBeNull();
  });

  it("creates one thread per correspondent, keyed case-insensitively", () => {
    const conversations = new Conversations();
    conversations.add(whisper("Bob", ME, 1, "hi"), ME);
    conversations.add(whisper("BOB", ME, 2, "again"), ME);
    conversations.add(whisper("bob", "alice", 3, "and again"), ME);

    const threads = conversations.list();
    expect(threads).toHaveLength(1);
    expect(threads[0]!.user).toBe("Bob");
    expect(threads[0]!.lines.map((line) => line.text)).toEqual(["hi", "again", "and again"]);
    expect(threads[0]!.lines.every((line) => line.incoming)).toBe(true);
  });

  it("records who sent each line and gives each line a distinct id", () => {
    const conversations = new Conversations();
    conversations.add(whisper("Bob", ME, 1), ME);
    conversations.add(whisper(ME, "Bob", 2), ME);
    const lines = conversations.list()[0]!.lines;

    expect(lines.map((line) => [line.from, line.incoming, line.ts])).toEqual([
      ["Bob", true, 1],
      [ME, false, 2],
    ]);
    expect(new Set(lines.map((line) => line.id)).size).toBe(2);
  });

  it("files an outgoing whisper under the recipient, without unread", () => {
    const conversations = new Conversations();
    conversations.add(whisper(ME, "Carol", 5, "hello Carol"), ME);

    const threads = conversations.list();
    expect(threads).toHaveLength(1);
    expect(threads[0]).toMatchObject({ user: "Carol", unread: 0, lastTs: 5 });
    expect(threads[0]!.lines[0]).toMatchObject({ from: ME, text: "hello Carol", incoming: false });
    expect(conversations.totalUnread()).toBe(0);
  });

  it("recognises our own whispers whatever the case of our name", () => {
    const conversations = new Conversations();
    conversations.add(whisper("ALICE", "Carol", 5), ME);
    expect(conversations.list().map((thread) => thread.user)).toEqual(["Carol"]);
    expect(conversations.totalUnread()).toBe(0);
  });

  it("puts an outgoing whisper and the reply in the same thread", () => {
    const conversations = new Conversations();
    conversations.add(whisper(ME, "dave", 1), ME);
    conversations.add(whisper("Dave", ME, 2), ME);
    expect(conversations.list()).toHaveLength(1);
    expect(conversations.list()[0]!.lines).toHaveLength(2);
    expect(conversations.list()[0]!.unread).toBe(1);
  });
});

describe("Conversations with names that are also Object.prototype members", () => {
  // KNOWN BUG (web/src/lib/conversations.svelte.ts, thread()): `this.threads[key] ??= …` reads
  // the inherited Object.prototype.constructor for a user named "constructor" (a valid username),
  // so no thread is created and add() throws. Remove `.fails` once thread() checks own keys.
  it("keeps a thread for a user named constructor", () => {
    const conversations = new Conversations();
    conversations.add(whisper("constructor", ME, 1, "hi"), ME);
    expect(conversations.list().map((thread) => [thread.user, thread.unread])).toEqual([["constructor", 1]]);
  });

  it("keeps threads for users named like other Object.prototype members", () => {
    const conversations = new Conversations();
    for (const [i, name] of ["toString", "valueOf", "hasOwnProperty", "isPrototypeOf"].entries()) {
      conversations.add(whisper(name, ME, i + 1), ME);
    }
    expect(conversations.list().map((thread) => thread.user)).toEqual([
      "isPrototypeOf",
      "hasOwnProperty",
      "valueOf",
      "toString",
    ]);
    expect(conversations.totalUnread()).toBe(4);
  });
});

describe("Conversations unread counts", () => {
  it("counts incoming whispers in threads that are not open", () => {
    const conversations = new Conversations();
    conversations.add(whisper("Bob", ME, 1), ME);
    conversations.add(whisper("Bob", ME, 2), ME);
    conversations.add(whisper("Carol", ME, 3), ME);

    const unread = Object.fromEntries(conversations.list().map((thread) => [thread.user, thread.unread]));
    expect(unread).toEqual({ Bob: 2, Carol: 1 });
    expect(conversations.totalUnread()).toBe(3);
  });

  it("does not count whispers in the open thread, whatever the case", () => {
    const conversations = new Conversations();
    conversations.openWith("bob");
    conversations.add(whisper("Bob", ME, 1), ME);
    conversations.add(whisper("BOB", ME, 2), ME);
    conversations.add(whisper("Carol", ME, 3), ME);

    expect(conversations.current()?.unread).toBe(0);
    expect(conversations.current()?.lines).toHaveLength(2);
    expect(conversations.totalUnread()).toBe(1);
  });

  it("resets a thread's unread count when it is opened", () => {
    const conversations = new Conversations();
    conversations.add(whisper("Bob", ME, 1), ME);
    conversations.add(whisper("Bob", ME, 2), ME);
    conversations.add(whisper("Carol", ME, 3), ME);

    conversations.openWith("BOB");
    expect(conversations.open).toBe("Bob");
    expect(conversations.current()?.user).toBe("Bob");
    expect(conversations.current()?.unread).toBe(0);
    expect(conversations.totalUnread()).toBe(1);
  });

  it("counts again once the thread is closed", () => {
    const conversations = new Conversations();
    conversations.openWith("Bob");
    conversations.add(whisper("Bob", ME, 1), ME);
    conversations.close();
    expect(conversations.current()).toBeNull();
    conversations.add(whisper("Bob", ME, 2), ME);
    expect(conversations.totalUnread()).toBe(1);
  });

  it("counts in a thread while another one is open", () => {
    const conversations = new Conversations();
    conversations.openWith("Carol");
    conversations.add(whisper("Bob", ME, 1), ME);
    expect(conversations.totalUnread()).toBe(1);
    expect(conversations.current()?.user).toBe("Carol");
  });

  it("opens an empty thread for someone we have not talked to yet", () => {
    const conversations = new Conversations();
    conversations.openWith("Erin");
    expect(conversations.current()).toMatchObject({ user: "Erin", lines: [], unread: 0 });
  });
});

describe("Conversations list", () => {
  it("lists threads most recent first", () => {
    const conversations = new Conversations();
    conversations.add(whisper("Bob", ME, 10), ME);
    conversations.add(whisper("Carol", ME, 20), ME);
    conversations.add(whisper(ME, "Dave", 30), ME);
    expect(conversations.list().map((thread) => thread.user)).toEqual(["Dave", "Carol", "Bob"]);

    conversations.add(whisper("bob", ME, 40), ME);
    expect(conversations.list().map((thread) => thread.user)).toEqual(["Bob", "Dave", "Carol"]);
    expect(conversations.list()[0]!.lastTs).toBe(40);

    conversations.add(whisper(ME, "CAROL", 50), ME);
    expect(conversations.list().map((thread) => thread.user)).toEqual(["Carol", "Bob", "Dave"]);
  });

  it("sums unread counts over all threads", () => {
    const conversations = new Conversations();
    for (let i = 0; i < 3; i++) conversations.add(whisper("Bob", ME, i), ME);
    for (let i = 0; i < 2; i++) conversations.add(whisper("Carol", ME, 10 + i), ME);
    conversations.add(whisper(ME, "Dave", 20), ME);
    conversations.add(whisper("Erin", ME, 30), ME);
    expect(conversations.totalUnread()).toBe(6);

    conversations.openWith("carol");
    expect(conversations.totalUnread()).toBe(4);
  });
});
