/**
 * The outbox's queue logic: messages typed while the room is unusable wait; once it is usable they
 * go one at a time, in order, with the id they got when typed; each ends delivered or failed.
 * The "server" here is a send function whose answers the test gives, one request at a time.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { ErrorCode, type RoomKey, type RoomSummary } from "@sala/protocol";
import { decryptText } from "@sala/protocol/envelope";
import { Outbox, type Delivered, type SendText, type TextAnswer } from "../src/lib/outbox.svelte.js";
import { RoomSession, type FeedItem } from "../src/lib/room.svelte.js";

const ROOM_ID = "AAAAAAAAAAAAAAAA";
const ME = "Alice";

interface Request {
  id: string;
  msg: string;
  answer(answer: TextAnswer): Promise<void>;
}

/** A send function that holds each request until the test answers it. */
function fakeServer() {
  const requests: Request[] = [];
  const send: SendText = (payload) =>
    new Promise<TextAnswer>((resolve) => {
      requests.push({
        ...payload,
        async answer(answer) {
          resolve(answer);
          await settle();
        },
      });
    });
  return { requests, send };
}

/** Lets the outbox's promise chain run to its next wait. */
const settle = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

const ok = (seq: number): TextAnswer => ({ ok: true, seq, ts: 1_700_000_000_000 + seq });
const refused = (code: ErrorCode, retryAfterMs?: number): TextAnswer => ({
  ok: false,
  error: { code, message: code, ...(retryAfterMs ? { retryAfterMs } : {}) },
});

function outbox() {
  let keyId = 1;
  const delivered: Delivered[] = [];
  const box = new Outbox(
    (text) => `k${keyId}:${text}:${Math.random().toString(36).slice(2)}`,
    (delivery) => delivered.push(delivery),
  );
  return { box, delivered, rotateKey: () => (keyId += 1) };
}

afterEach(() => {
  vi.useRealTimers();
});

describe("Outbox: waiting and sending in order", () => {
  it("holds a message typed while the room is unusable, then sends it once, with its id", async () => {
    const { box, delivered } = outbox();
    const server = fakeServer();
    const message = box.add("typed offline");
    await settle();
    expect(server.requests).toHaveLength(0);
    expect(box.items.map((item) => [item.text, item.state])).toEqual([["typed offline", "queued"]]);

    box.open(server.send);
    await settle();
    expect(server.requests.map((request) => request.id)).toEqual([message.id]);
    expect(box.items[0]!.state).toBe("sending");

    await server.requests[0]!.answer(ok(7));
    expect(box.items).toEqual([]);
    expect(delivered).toHaveLength(1);
    expect(delivered[0]).toMatchObject({ seq: 7, ts: 1_700_000_000_007, message: { id: message.id, text: "typed offline" } });
    expect(delivered[0]!.rttMs).toBeGreaterThanOrEqual(0);
    expect(server.requests).toHaveLength(1);
  });

  it("sends one message at a time, in the order they were typed", async () => {
    const { box, delivered } = outbox();
    const server = fakeServer();
    box.add("one");
    box.add("two");
    box.add("three");
    box.open(server.send);
    await settle();
    expect(server.requests).toHaveLength(1);
    await server.requests[0]!.answer(ok(1));
    expect(server.requests).toHaveLength(2);
    await server.requests[1]!.answer(ok(2));
    await server.requests[2]!.answer(ok(3));
    expect(delivered.map((delivery) => [delivery.message.text, delivery.seq])).toEqual([
      ["one", 1],
      ["two", 2],
      ["three", 3],
    ]);
    expect(new Set(server.requests.map((request) => request.id)).size).toBe(3);
  });

  it("gives every message its own random id of the protocol's shape", () => {
    const { box } = outbox();
    const ids = Array.from({ length: 50 }, (_, i) => box.add(`m${i}`).id);
    expect(new Set(ids).size).toBe(50);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_-]{8,32}$/);
  });
});

describe("Outbox: a connection that drops", () => {
  it("resends after a drop with the same id, re-encrypted, without counting the lost attempt", async () => {
    const { box, delivered } = outbox();
    const server = fakeServer();
    box.open(server.send);
    const message = box.add("during a restart");
    await settle();
    // The socket drops with the request in flight: its answer is lost (Socket.IO ends the ack).
    box.close();
    await server.requests[0]!.answer(refused(ErrorCode.UNAVAILABLE));
    expect(box.items.map((item) => item.state)).toEqual(["queued"]);
    expect(box.isOpen).toBe(false);

    // Several drops in a row never exhaust its attempts.
    for (let drop = 1; drop <= 5; drop++) {
      box.open(server.send);
      await settle();
      box.close();
      await server.requests[drop]!.answer(refused(drop % 2 ? ErrorCode.NOT_MEMBER : ErrorCode.UNAVAILABLE));
      expect(box.items.map((item) => item.state)).toEqual(["queued"]);
    }

    box.open(server.send);
    await settle();
    await server.requests[6]!.answer(ok(12));
    expect(delivered.map((delivery) => delivery.seq)).toEqual([12]);
    expect(server.requests.map((request) => request.id)).toEqual(Array(7).fill(message.id));
    expect(new Set(server.requests.map((request) => request.msg)).size).toBe(7); // a fresh IV each time
  });

  it("does not send the message again when its copy came back from the room (the answer was lost)", async () => {
    const { box, delivered } = outbox();
    const server = fakeServer();
    box.open(server.send);
    box.add("posted, answer lost");
    box.add("next");
    await settle();
    box.close();
    const envelope = server.requests[0]!.msg;
    await server.requests[0]!.answer(refused(ErrorCode.UNAVAILABLE));

    // After the reconnect, the history brings the message the server had accepted.
    box.arrived(envelope, 9, 1_700_000_000_009);
    expect(delivered).toEqual([expect.objectContaining({ seq: 9, message: expect.objectContaining({ text: "posted, answer lost" }) })]);
    expect(delivered[0]!.rttMs).toBeUndefined();
    box.open(server.send);
    await settle();
    expect(server.requests.map((request) => request.msg.split(":")[1])).toEqual(["posted, answer lost", "next"]);
  });

  it("delivers a message once when its live copy arrives before its answer", async () => {
    const { box, delivered } = outbox();
    const server = fakeServer();
    box.open(server.send);
    box.add("hello");
    await settle();
    box.arrived(server.requests[0]!.msg, 4, 1_700_000_000_004);
    expect(box.items).toEqual([]);
    await server.requests[0]!.answer(ok(4));
    // Both report seq 4: the room shows it once (it matches by seq), the second adds the round trip.
    expect(delivered.map((delivery) => [delivery.seq, delivery.rttMs === undefined])).toEqual([
      [4, true],
      [4, false],
    ]);
    expect(server.requests).toHaveLength(1);
  });

  it("ignores copies of envelopes it never sent", () => {
    const { box, delivered } = outbox();
    box.add("mine");
    box.arrived("someone else's envelope", 3, 0);
    expect(box.size).toBe(1);
    expect(delivered).toEqual([]);
  });
});

describe("Outbox: retries and failures", () => {
  it("retries a stale key with the same id, encrypted under the new key", async () => {
    vi.useFakeTimers();
    const { box, delivered, rotateKey } = outbox();
    const server = fakeServer();
    box.open(server.send);
    const message = box.add("key rotates");
    await vi.advanceTimersByTimeAsync(0);
    rotateKey();
    void server.requests[0]!.answer(refused(ErrorCode.STALE_KEY));
    await vi.advanceTimersByTimeAsync(1000);
    expect(server.requests.map((request) => [request.id, request.msg.split(":")[0]])).toEqual([
      [message.id, "k1"],
      [message.id, "k2"],
    ]);
    void server.requests[1]!.answer(ok(5));
    await vi.advanceTimersByTimeAsync(0);
    expect(delivered.map((delivery) => delivery.seq)).toEqual([5]);
  });

  it("waits the server's retryAfterMs after BUSY or RATE_LIMITED", async () => {
    vi.useFakeTimers();
    const { box } = outbox();
    const server = fakeServer();
    box.open(server.send);
    box.add("throttled");
    await vi.advanceTimersByTimeAsync(0);
    void server.requests[0]!.answer(refused(ErrorCode.BUSY, 5000));
    await vi.advanceTimersByTimeAsync(4900);
    expect(server.requests).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(200);
    expect(server.requests).toHaveLength(2);
    void server.requests[1]!.answer(refused(ErrorCode.RATE_LIMITED, 2000));
    await vi.advanceTimersByTimeAsync(2100);
    expect(server.requests).toHaveLength(3);
  });

  it("fails after too many lost answers while connected, and a retry sends it again with the same id", async () => {
    vi.useFakeTimers();
    const { box, delivered } = outbox();
    const server = fakeServer();
    box.open(server.send);
    const message = box.add("server unresponsive");
    for (let attempt = 0; attempt < 4; attempt++) {
      await vi.advanceTimersByTimeAsync(2000);
      void server.requests[attempt]!.answer(refused(ErrorCode.UNAVAILABLE));
    }
    await vi.advanceTimersByTimeAsync(5000);
    expect(server.requests).toHaveLength(4);
    expect(box.items.map((item) => [item.state, item.error?.code])).toEqual([["failed", ErrorCode.UNAVAILABLE]]);

    box.retry(message.id);
    expect(box.items[0]!.state).not.toBe("failed");
    await vi.advanceTimersByTimeAsync(0);
    expect(server.requests).toHaveLength(5);
    expect(server.requests[4]!.id).toBe(message.id);
    void server.requests[4]!.answer(ok(30));
    await vi.advanceTimersByTimeAsync(0);
    expect(delivered.map((delivery) => delivery.seq)).toEqual([30]);
    expect(box.items).toEqual([]);
  });

  it("fails at once on a refusal that would repeat (NOT_MEMBER after a kick), and goes on with the next", async () => {
    const { box, delivered } = outbox();
    const server = fakeServer();
    box.open(server.send);
    const kicked = box.add("after the kick");
    box.add("another");
    await settle();
    await server.requests[0]!.answer(refused(ErrorCode.NOT_MEMBER));
    expect(box.items.map((item) => [item.text, item.state])).toEqual([
      ["after the kick", "failed"],
      ["another", "sending"],
    ]);
    expect(box.items[0]!.error?.code).toBe(ErrorCode.NOT_MEMBER);
    await server.requests[1]!.answer(refused(ErrorCode.NOT_MEMBER));
    expect(server.requests).toHaveLength(2);

    // Discard drops a failed message; it never leaves again.
    box.discard(kicked.id);
    expect(box.items.map((item) => item.text)).toEqual(["another"]);
    box.close();
    box.open(server.send);
    await settle();
    expect(server.requests).toHaveLength(2);
    expect(delivered).toEqual([]);
  });

  it("goes back in line behind waiting messages when retried, and never discards one on its way", async () => {
    const { box } = outbox();
    const server = fakeServer();
    box.open(server.send);
    const first = box.add("first");
    await settle();
    await server.requests[0]!.answer(refused(ErrorCode.INTERNAL));
    box.close();
    box.add("second");
    box.retry(first.id);
    expect(box.items.map((item) => item.text)).toEqual(["second", "first"]);
    box.open(server.send);
    await settle();
    const onItsWay = box.items[0]!;
    expect(onItsWay.state).toBe("sending");
    box.discard(onItsWay.id);
    expect(box.items.map((item) => item.text)).toEqual(["second", "first"]);
  });
});

describe("RoomSession with its outbox", () => {
  function randomKey(id: number): RoomKey {
    const bytes = crypto.getRandomValues(new Uint8Array(32));
    return { id, key: btoa(String.fromCharCode(...bytes)) };
  }
  const summary: RoomSummary = { id: ROOM_ID, name: "General", owner: ME, isPrivate: false, memberCount: 2, createdAt: 1 };
  const shown = (feed: FeedItem[]) => feed.flatMap((item) => (item.kind === "message" ? [`${item.seq}:${item.text}:${item.rttMs ?? "-"}`] : []));

  it("turns a pending bubble into one message at its seq when the live copy and the answer both arrive", async () => {
    const key = randomKey(1);
    const room = new RoomSession(summary, [ME, "Bob"], key, [], [], ME);
    const server = fakeServer();
    room.outbox.open(server.send);
    room.outbox.add("olá");
    await settle();
    const sent = server.requests[0]!;
    // The envelope is sealed under the room's key and names the room.
    expect(decryptText(sent.msg, ROOM_ID, (id) => (id === 1 ? key.key : undefined))).toMatchObject({ ok: true, text: "olá" });

    room.receive({ roomId: ROOM_ID, seq: 3, from: ME, ts: 33, msg: sent.msg }, ME);
    expect(room.outbox.items).toEqual([]);
    await sent.answer(ok(3));
    expect(shown(room.feed)).toEqual([expect.stringMatching(/^3:olá:\d+$/)]);
  });

  it("re-encrypts a waiting message under a key that arrived while it waited", async () => {
    const key1 = randomKey(1);
    const key2 = randomKey(2);
    const room = new RoomSession(summary, [ME, "Bob"], key1, [], [], ME);
    room.outbox.add("after rotation");
    room.addKey(key2);
    const server = fakeServer();
    room.outbox.open(server.send);
    await settle();
    const keys = new Map([[1, key1.key], [2, key2.key]]);
    expect(server.requests[0]!.msg.split(".")[1]).toBe("2");
    expect(decryptText(server.requests[0]!.msg, ROOM_ID, (id) => keys.get(id))).toMatchObject({ ok: true, text: "after rotation" });
  });

  it("keeps the barred list sorted, case-insensitive, and live", () => {
    const room = new RoomSession(summary, [ME], randomKey(1), [], [], ME);
    expect(room.banned).toEqual([]);
    room.setBanned(undefined); // a server that bars no one sends nothing
    expect(room.banned).toEqual([]);
    room.setBanned(["zoe", "Bob"]);
    expect(room.banned).toEqual(["Bob", "zoe"]);
    room.banChanged("carol", true);
    room.banChanged("BOB", true);
    expect(room.banned).toEqual(["BOB", "carol", "zoe"]);
    room.banChanged("Zoe", false);
    room.banChanged("nobody", false);
    expect(room.banned).toEqual(["BOB", "carol"]);
  });
});
