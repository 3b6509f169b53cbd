/**
 * The components read RoomSession, Conversations and i18n through runes ($derived, markup), so
 * their changes must be observable. This file is itself a rune module (the `.svelte.` infix), so
 * it can track them with $effect.root and $derived exactly as a component would.
 */
import { flushSync } from "svelte";
import { describe, expect, it } from "vitest";
import type { RoomKey } from "@sala/protocol";
import { encryptText } from "@sala/protocol/envelope";
import { RoomSession } from "../src/lib/room.svelte.js";
import { Conversations } from "../src/lib/conversations.svelte.js";
import { i18n } from "../src/i18n/i18n.svelte.js";

const ROOM_ID = "AAAAAAAAAAAAAAAA";
const ME = "Alice";

function randomKey(id: number): RoomKey {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return { id, key: btoa(String.fromCharCode(...bytes)) };
}

/** Runs `read` in an effect and returns every value it saw; call `stop` when done. */
function track<T>(read: () => T): { seen: T[]; stop: () => void } {
  const seen: T[] = [];
  const stop = $effect.root(() => {
    $effect(() => {
      seen.push(read());
    });
  });
  flushSync();
  return { seen, stop };
}

describe("reactivity", () => {
  it("compiles rune modules for the browser", () => {
    // A client-compiled $state field is an accessor on the prototype; a server build is a plain field.
    expect(typeof Object.getOwnPropertyDescriptor(RoomSession.prototype, "feed")?.get).toBe("function");
  });

  it("a room's feed, members and typers are observable", () => {
    const key = randomKey(1);
    const room = new RoomSession(
      { id: ROOM_ID, name: "General", owner: ME, isPrivate: false, memberCount: 1, createdAt: 0 },
      [ME],
      key,
    );
    const feed = track(() => room.feed.map((item) => (item.kind === "message" ? `${item.seq}:${item.rttMs ?? "-"}` : item.kind)).join(" "));
    const members = track(() => room.members.join(","));
    const typers = track(() => room.typers(1000).join(","));

    room.startTyping("Bob", 0);
    flushSync();
    room.memberJoined("Bob");
    flushSync();
    room.receive({ roomId: ROOM_ID, seq: 2, from: "Bob", ts: 2, msg: encryptText("hi", ROOM_ID, key) }, ME);
    flushSync();
    room.acknowledged(1, 1, "mine", ME, 9);
    flushSync();
    // The ack of an already-shown message only mutates it: still observable.
    room.acknowledged(2, 2, "hi", ME, 33);
    flushSync();

    expect(feed.seen).toEqual(["", "notice", "notice 2:-", "notice 1:9 2:-", "notice 1:9 2:33"]);
    expect(members.seen).toEqual(["Alice", "Alice,Bob"]);
    expect(typers.seen).toEqual(["", "Bob", ""]);
    for (const tracker of [feed, members, typers]) tracker.stop();
  });

  it("conversations' unread counts and order are observable", () => {
    const conversations = new Conversations();
    const unread = track(() => conversations.totalUnread());
    const order = track(() => conversations.list().map((thread) => thread.user).join(","));

    const whisper = (from: string, seq: number, ts: number) => ({ conversationId: `dm:${from}`, seq, from, to: ME, ts, msg: "v1.x" });
    conversations.receive(whisper("Bob", 1, 1), ME);
    flushSync();
    conversations.receive(whisper("Carol", 1, 2), ME);
    flushSync();
    conversations.read("bob", 1); // read on another device
    flushSync();
    const line = conversations.list()[1]!.lines[0]!;
    const text = track(() => conversations.list()[1]!.lines[0]!.text);
    conversations.addPage("Bob", [], [{ id: 1, key: btoa("k".repeat(32)) }], ME); // keys arrive: line re-decrypted (still null here)
    flushSync();

    expect(unread.seen).toEqual([0, 1, 2, 1]);
    expect(order.seen).toEqual(["", "Bob", "Carol,Bob"]);
    expect(line.text).toBeNull();
    expect(text.seen).toEqual([null]);
    text.stop();
    unread.stop();
    order.stop();
  });

  it("switching language is observable", () => {
    i18n.set("en");
    const text = track(() => i18n.t("lobby.onlineUsers"));
    i18n.set("pt-BR");
    flushSync();
    i18n.set("en");
    flushSync();
    expect(text.seen).toEqual(["Online users", "Usuários Online", "Online users"]);
    text.stop();
  });
});
