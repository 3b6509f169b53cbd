import { describe, expect, it } from "vitest";
import { parseEnvelope, type RoomKey, type RoomMessage, type RoomSummary } from "@sala/protocol";
import { encryptText } from "@sala/protocol/envelope";
import { RoomSession, type FeedItem } from "../src/lib/room.svelte.js";

const ROOM_ID = "AAAAAAAAAAAAAAAA";
const OTHER_ROOM_ID = "BBBBBBBBBBBBBBBB";
const ME = "Alice";

function randomKey(id: number): RoomKey {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return { id, key: btoa(String.fromCharCode(...bytes)) };
}

function summary(id = ROOM_ID): RoomSummary {
  return { id, name: "General", owner: "Alice", isPrivate: false, memberCount: 3, createdAt: 1_700_000_000_000 };
}

function message(seq: number, from: string, text: string, key: RoomKey, scope = ROOM_ID): RoomMessage {
  return { roomId: ROOM_ID, seq, from, ts: 1_700_000_000_000 + seq, msg: encryptText(text, scope, key) };
}

type MessageItem = Extract<FeedItem, { kind: "message" }>;
type NoticeItem = Extract<FeedItem, { kind: "notice" }>;

const messages = (room: RoomSession): MessageItem[] =>
  room.feed.filter((item): item is MessageItem => item.kind === "message");
const notices = (room: RoomSession): NoticeItem[] =>
  room.feed.filter((item): item is NoticeItem => item.kind === "notice");

/** Flips one base64 character of the envelope part at `part` (1 = key id … 4 = mac). */
function tamper(envelope: string, part: 2 | 3 | 4): string {
  const pieces = envelope.split(".");
  const target = pieces[part]!;
  const flipped = target[0] === "A" ? "B" : "A";
  pieces[part] = flipped + target.slice(1);
  return pieces.join(".");
}

describe("RoomSession feed ordering", () => {
  it("shows messages that arrive out of order in sequence order", () => {
    const key = randomKey(1);
    const room = new RoomSession(summary(), [ME, "Bob"], key);
    for (const seq of [3, 1, 5, 2, 4]) room.receive(message(seq, "Bob", `m${seq}`, key), ME);

    expect(messages(room).map((item) => item.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(messages(room).map((item) => item.text)).toEqual(["m1", "m2", "m3", "m4", "m5"]);
  });

  it("keeps own acknowledged messages and others' messages in one sequence order", () => {
    const key = randomKey(1);
    const room = new RoomSession(summary(), [ME, "Bob"], key);
    room.receive(message(2, "Bob", "two", key), ME);
    room.acknowledged(1, 1_700_000_000_001, "one", ME, 12);
    room.acknowledged(4, 1_700_000_000_004, "four", ME, 15);
    room.receive(message(3, "Bob", "three", key), ME);

    expect(messages(room).map((item) => [item.seq, item.text, item.mine])).toEqual([
      [1, "one", true],
      [2, "two", false],
      [3, "three", false],
      [4, "four", true],
    ]);
  });

  // KNOWN BUG (web/src/lib/room.svelte.ts, insert()): the backwards walk stops at the first
  // notice or whisper, so a late message lands after it, below later-numbered messages.
  // Remove `.fails` once insert() is fixed; the test then guards the fix.
  it("keeps sequence order when a notice or whisper came in between", () => {
    const key = randomKey(1);
    const room = new RoomSession(summary(), [ME, "Bob"], key);
    room.receive(message(1, "Bob", "m1", key), ME);
    room.receive(message(3, "Bob", "m3", key), ME);
    room.memberJoined("Carol");
    room.whisper("dm:x#1", "Bob", ME, 5, "psst", true);
    room.receive(message(2, "Bob", "m2", key), ME);

    expect(messages(room).map((item) => item.seq)).toEqual([1, 2, 3]);
  });

  it("marks messages as mine case-insensitively", () => {
    const key = randomKey(1);
    const room = new RoomSession(summary(), [ME, "Bob"], key);
    room.receive(message(1, "alice", "echo", key), ME);
    room.receive(message(2, "Bob", "hi", key), ME);

    expect(messages(room).map((item) => item.mine)).toEqual([true, false]);
  });
});

describe("RoomSession deduplication of ack and echo", () => {
  it("shows a message once when the echo arrives after the ack, keeping the round trip", () => {
    const key = randomKey(1);
    const room = new RoomSession(summary(), [ME, "Bob"], key);
    room.acknowledged(7, 1_700_000_000_007, "hello", ME, 42);
    room.receive(message(7, ME, "hello", key), ME);

    const shown = messages(room);
    expect(shown).toHaveLength(1);
    expect(shown[0]).toMatchObject({ seq: 7, text: "hello", mine: true, rttMs: 42 });
  });

  it("shows a message once when the ack arrives after the echo, adding the round trip", () => {
    const key = randomKey(1);
    const room = new RoomSession(summary(), [ME, "Bob"], key);
    room.receive(message(7, ME, "hello", key), ME);
    room.acknowledged(7, 1_700_000_000_007, "hello", ME, 42);

    const shown = messages(room);
    expect(shown).toHaveLength(1);
    expect(shown[0]).toMatchObject({ seq: 7, text: "hello", mine: true, rttMs: 42 });
  });

  it("ignores a second delivery of the same sequence number", () => {
    const key = randomKey(1);
    const room = new RoomSession(summary(), [ME, "Bob"], key);
    const first = message(3, "Bob", "once", key);
    room.receive(first, ME);
    room.receive({ ...first }, ME);
    room.receive(message(3, "Bob", "a different body for the same seq", key), ME);

    expect(messages(room)).toHaveLength(1);
    expect(messages(room)[0]!.text).toBe("once");
  });
});

describe("RoomSession decryption failures", () => {
  it("decrypts a message under the room key", () => {
    const key = randomKey(1);
    const room = new RoomSession(summary(), [ME, "Bob"], key);
    room.receive(message(1, "Bob", "olá, mundo ✓", key), ME);
    expect(messages(room)[0]!.text).toBe("olá, mundo ✓");
  });

  it("gives text null for a message under another key with the same id", () => {
    const key = randomKey(1);
    const room = new RoomSession(summary(), [ME, "Bob"], key);
    room.receive(message(1, "Bob", "secret", randomKey(1)), ME);

    expect(messages(room)).toHaveLength(1);
    expect(messages(room)[0]!.text).toBeNull();
  });

  it("gives text null for a message under a key id it does not hold", () => {
    const key = randomKey(1);
    const room = new RoomSession(summary(), [ME, "Bob"], key);
    room.receive(message(1, "Bob", "secret", randomKey(2)), ME);
    expect(messages(room)[0]!.text).toBeNull();
  });

  it("gives text null for a tampered iv, ciphertext or mac", () => {
    const key = randomKey(1);
    const room = new RoomSession(summary(), [ME, "Bob"], key);
    const parts = [2, 3, 4] as const;
    parts.forEach((part, index) => {
      const original = message(index + 1, "Bob", "a message long enough to span blocks", key);
      const msg = tamper(original.msg, part);
      expect(msg).not.toBe(original.msg);
      room.receive({ ...original, msg }, ME);
    });

    expect(messages(room).map((item) => item.text)).toEqual([null, null, null]);
  });

  it("gives text null for an envelope made for another room (no cross-room replay)", () => {
    const key = randomKey(1);
    const room = new RoomSession(summary(), [ME, "Bob"], key);
    room.receive(message(1, "Bob", "for the other room", key, OTHER_ROOM_ID), ME);
    expect(messages(room)[0]!.text).toBeNull();
  });

  it("gives text null for something that is not an envelope", () => {
    const key = randomKey(1);
    const room = new RoomSession(summary(), [ME, "Bob"], key);
    room.receive({ roomId: ROOM_ID, seq: 1, from: "Bob", ts: 1, msg: "plain text, not encrypted" }, ME);
    expect(messages(room)[0]!.text).toBeNull();
  });

  it("keeps decrypting later messages after a failure", () => {
    const key = randomKey(1);
    const room = new RoomSession(summary(), [ME, "Bob"], key);
    room.receive(message(1, "Bob", "bad", randomKey(1)), ME);
    room.receive(message(2, "Bob", "good", key), ME);
    expect(messages(room).map((item) => item.text)).toEqual([null, "good"]);
  });
});

describe("RoomSession key rotation", () => {
  it("encrypts under the room key it was created with", () => {
    const key = randomKey(3);
    const room = new RoomSession(summary(), [ME], key);
    expect(parseEnvelope(room.encrypt("hi"))?.keyId).toBe(3);
  });

  it("encrypts under a newer key once added and still decrypts messages under the old one", () => {
    const oldKey = randomKey(1);
    const newKey = randomKey(2);
    const room = new RoomSession(summary(), [ME, "Bob"], oldKey);
    room.addKey(newKey);

    const envelope = room.encrypt("after rotation");
    expect(parseEnvelope(envelope)?.keyId).toBe(2);

    // Our own envelope round-trips through the room (as the echo would).
    room.receive({ roomId: ROOM_ID, seq: 1, from: ME, ts: 1, msg: envelope }, ME);
    room.receive(message(2, "Bob", "sent just before the rotation", oldKey), ME);
    room.receive(message(3, "Bob", "sent after the rotation", newKey), ME);
    expect(messages(room).map((item) => item.text)).toEqual([
      "after rotation",
      "sent just before the rotation",
      "sent after the rotation",
    ]);
  });

  it("announces a rotation with a room.keyRotated notice", () => {
    const room = new RoomSession(summary(), [ME], randomKey(1));
    room.addKey(randomKey(2));
    expect(notices(room).map((item) => item.key)).toEqual(["room.keyRotated"]);
  });

  it("does not go back to an older key (out-of-order key delivery)", () => {
    const room = new RoomSession(summary(), [ME], randomKey(1));
    room.addKey(randomKey(3));
    room.addKey(randomKey(2));
    expect(parseEnvelope(room.encrypt("x"))?.keyId).toBe(3);
  });

  it("does not switch or announce anything when the current key is delivered again (rejoin)", () => {
    const key = randomKey(4);
    const room = new RoomSession(summary(), [ME], key);
    room.addKey({ ...key });
    expect(parseEnvelope(room.encrypt("x"))?.keyId).toBe(4);
    expect(notices(room)).toEqual([]);
  });

  it("can decrypt messages under an older key learnt after the newer one", () => {
    const older = randomKey(1);
    const newer = randomKey(2);
    const room = new RoomSession(summary(), [ME, "Bob"], newer);
    room.addKey(older);
    room.receive(message(1, "Bob", "old", older), ME);
    expect(messages(room)[0]!.text).toBe("old");
    expect(parseEnvelope(room.encrypt("x"))?.keyId).toBe(2);
  });
});

describe("RoomSession messages that overtake their key", () => {
  it("decrypts a message once the key it names arrives", () => {
    const first = randomKey(1);
    const second = randomKey(2);
    const room = new RoomSession(summary(), [ME], first);
    room.receive(message(1, "Bob", "sent under the new key", second), ME);
    expect(messages(room)[0]!.text).toBeNull();
    room.addKey(second);
    expect(messages(room)[0]!.text).toBe("sent under the new key");
  });

  it("does not retry a message that failed for another reason than a missing key", () => {
    const key = randomKey(1);
    const room = new RoomSession(summary(), [ME], key);
    room.receive({ ...message(1, "Bob", "tampered", key), msg: tamper(message(1, "Bob", "tampered", key).msg, 4) }, ME);
    room.addKey(randomKey(2));
    expect(messages(room)[0]!.text).toBeNull();
    expect(messages(room)[0]!.awaitingKey).toBeUndefined();
  });
});

describe("RoomSession last sequence number", () => {
  it("is the highest seq held, whatever the arrival order, including history", () => {
    const key = randomKey(1);
    const room = new RoomSession(summary(), [ME], key, [message(2, "Bob", "b", key)], [key], ME);
    expect(room.lastSeq()).toBe(2);
    room.receive(message(7, "Bob", "g", key), ME);
    room.receive(message(5, "Bob", "e", key), ME);
    room.acknowledged(6, 1, "f", ME, 3);
    expect(room.lastSeq()).toBe(7);
    room.receiveHistory([message(9, "Bob", "i", key), message(8, "Bob", "h", key)], [], ME);
    expect(room.lastSeq()).toBe(9);
  });
});

describe("RoomSession gap before an acknowledged message", () => {
  it("names the last seq held before numbers that are missing, and nothing once they arrive", () => {
    const key = randomKey(1);
    const room = new RoomSession(summary(), [ME], key, [message(40, "Bob", "a", key)], [key], ME);
    room.acknowledged(41, 1, "mine", ME, 3);
    expect(room.gapBefore(41)).toBeNull(); // 40 is held
    room.acknowledged(44, 2, "mine again", ME, 3);
    expect(room.gapBefore(44)).toBe(41); // 42 and 43 are missing
    room.receive(message(43, "Bob", "c", key), ME);
    expect(room.gapBefore(44)).toBe(41); // 42 still is
    room.receiveHistory([message(42, "Bob", "b", key)], [], ME);
    expect(room.gapBefore(44)).toBeNull();
  });

  it("sees no gap where it holds nothing earlier (a new room, or a first message)", () => {
    const room = new RoomSession(summary(), [ME], randomKey(1));
    room.acknowledged(1, 1, "first", ME, 3);
    expect(room.gapBefore(1)).toBeNull();
    expect(new RoomSession(summary(), [ME], randomKey(1)).gapBefore(5000)).toBeNull();
  });
});

describe("RoomSession members after a reconnect", () => {
  it("sorts the member list it is given", () => {
    const room = new RoomSession(summary(), [ME], randomKey(1));
    room.setMembers(["zoe", "Bob", "alice"]);
    expect(room.members).toEqual(["alice", "Bob", "zoe"]);
  });
});

describe("RoomSession typing indicators", () => {
  it("treats names case-insensitively and survives a user named like an Object property", () => {
    const room = new RoomSession(summary(), [ME], randomKey(1));
    room.startTyping("Bob", 1000);
    room.startTyping("BOB", 1000);
    room.startTyping("constructor", 1000);
    expect(room.typers(2000).sort()).toEqual(["BOB", "constructor"]);
    room.stopTyping("bob");
    room.stopTyping("toString");
    expect(room.typers(2000)).toEqual(["constructor"]);
  });

  it("shows a typer until the indicator expires", () => {
    const room = new RoomSession(summary(), [ME, "Bob", "Carol"], randomKey(1));
    const t0 = 1_000_000;
    room.startTyping("Bob", t0);
    room.startTyping("Carol", t0 + 2000);

    expect(room.typers(t0).sort()).toEqual(["Bob", "Carol"]);
    expect(room.typers(t0 + 3000).sort()).toEqual(["Bob", "Carol"]);
    // Bob's indicator (4 s) is gone, Carol's (started 2 s later) is not.
    expect(room.typers(t0 + 5000)).toEqual(["Carol"]);
    expect(room.typers(t0 + 60_000)).toEqual([]);
  });

  it("extends an indicator when the typer signals again", () => {
    const room = new RoomSession(summary(), [ME, "Bob"], randomKey(1));
    room.startTyping("Bob", 0);
    room.startTyping("Bob", 3000);
    expect(room.typers(5000)).toEqual(["Bob"]);
    expect(room.typers(60_000)).toEqual([]);
  });

  it("clears a typer's indicator when their message arrives", () => {
    const key = randomKey(1);
    const room = new RoomSession(summary(), [ME, "Bob", "Carol"], key);
    const now = Date.now();
    room.startTyping("Bob", now);
    room.startTyping("Carol", now);
    room.receive(message(1, "Bob", "done typing", key), ME);

    expect(room.typers(now)).toEqual(["Carol"]);
  });

  it("clears a typer's indicator when they leave", () => {
    const room = new RoomSession(summary(), [ME, "Bob"], randomKey(1));
    const now = Date.now();
    room.startTyping("Bob", now);
    room.memberLeft("Bob", "left");
    expect(room.typers(now)).toEqual([]);
  });

  it("does nothing when someone who is not typing stops", () => {
    const room = new RoomSession(summary(), [ME, "Bob"], randomKey(1));
    room.startTyping("Bob", 0);
    const before = room.typing;
    room.stopTyping("Carol");
    expect(room.typing).toBe(before);
    expect(room.typers(0)).toEqual(["Bob"]);
  });
});

describe("RoomSession members", () => {
  it("sorts the initial members case-insensitively", () => {
    const room = new RoomSession(summary(), ["carol", "Bob", "alice", "Dave"], randomKey(1));
    expect(room.members).toEqual(["alice", "Bob", "carol", "Dave"]);
  });

  it("adds a joiner in sorted position with a room.joined notice", () => {
    const room = new RoomSession(summary(), ["alice", "Dave"], randomKey(1));
    room.memberJoined("bob");
    room.memberJoined("Carol");

    expect(room.members).toEqual(["alice", "bob", "Carol", "Dave"]);
    expect(notices(room).map((item) => [item.key, item.params])).toEqual([
      ["room.joined", { user: "bob" }],
      ["room.joined", { user: "Carol" }],
    ]);
  });

  it("does not list a member twice when they join again in another case", () => {
    const room = new RoomSession(summary(), ["Alice", "Bob"], randomKey(1));
    room.memberJoined("BOB");
    room.memberJoined("Bob");
    expect(room.members).toEqual(["Alice", "Bob"]);
  });

  it("removes a member case-insensitively, with a notice keyed by the reason", () => {
    const room = new RoomSession(summary(), ["Alice", "Bob", "Carol", "Dave", "Erin"], randomKey(1));
    room.memberLeft("bob", "left");
    room.memberLeft("CAROL", "kicked");

    expect(room.members).toEqual(["Alice", "Dave", "Erin"]);
    expect(notices(room).map((item) => [item.key, item.params])).toEqual([
      ["room.left", { user: "bob" }],
      ["room.kicked", { user: "CAROL" }],
    ]);
  });

  it("keeps a member who goes offline, shown offline until they come back, without a notice", () => {
    const room = new RoomSession(summary(), ["Alice", "Dave"], randomKey(1));
    room.setOnline(["alice", "DAVE"]);
    room.startTyping("Dave");
    room.memberPresence("dave", false);
    expect(room.members).toEqual(["Alice", "Dave"]);
    expect(room.isOnline("Dave")).toBe(false);
    expect(room.isOnline("Alice")).toBe(true);
    expect(room.typers()).toEqual([]);
    room.memberPresence("Dave", true);
    expect(room.isOnline("dave")).toBe(true);
    expect(notices(room)).toEqual([]);
  });

  it("keeps members sorted through joins and leaves", () => {
    const room = new RoomSession(summary(), ["Mia"], randomKey(1));
    for (const name of ["zoe", "Adam", "lena", "Bruno"]) room.memberJoined(name);
    room.memberLeft("LENA", "left");
    room.memberJoined("carla");
    expect(room.members).toEqual(["Adam", "Bruno", "carla", "Mia", "zoe"]);
  });
});

describe("RoomSession whispers and notices in the feed", () => {
  it("appends whispers and notices in arrival order", () => {
    const key = randomKey(1);
    const room = new RoomSession(summary(), [ME, "Bob"], key);
    room.receive(message(1, "Bob", "hi", key), ME);
    room.whisper("dm:x#1", "Bob", ME, 5, "psst", true);
    room.memberJoined("Carol");

    expect(room.feed.map((item) => item.kind)).toEqual(["message", "whisper", "notice"]);
    expect(room.feed[1]).toMatchObject({ from: "Bob", to: ME, text: "psst", incoming: true });
  });

  it("shows a whisper once, however often it arrives (ack and echo), and one it could not decrypt as such", () => {
    const room = new RoomSession(summary(), [ME, "Bob"], randomKey(1));
    room.whisper("dm:alice:bob#1", ME, "Bob", 5, "mine", false);
    room.whisper("dm:alice:bob#1", ME, "Bob", 5, "mine", false);
    room.whisper("dm:alice:bob#2", "Bob", ME, 6, null, true);
    expect(room.feed.map((item) => (item.kind === "whisper" ? item.text : item.kind))).toEqual(["mine", null]);
  });

  it("gives every feed item a distinct id (used as the keyed-each key)", () => {
    const key = randomKey(1);
    const room = new RoomSession(summary(), [ME, "Bob"], key);
    room.receive(message(2, "Bob", "b", key), ME);
    room.receive(message(1, "Bob", "a", key), ME);
    room.acknowledged(3, 3, "c", ME, 1);
    room.memberJoined("Carol");
    room.whisper("dm:x#1", "Bob", ME, 5, "psst", true);

    const ids = room.feed.map((item) => item.id);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
