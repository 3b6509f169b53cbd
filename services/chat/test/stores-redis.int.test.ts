import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { conversationId } from "@sala/protocol";
import { loadConfig } from "../src/config.js";
import { roomAnnouncer } from "../src/realtime/room-announcer.js";
import { createRedisStores } from "../src/stores/redis/index.js";
import { RedisKeys } from "../src/stores/redis/keys.js";
import { describeStoreContract } from "./store-contract.js";
import { scanKeys } from "../src/stores/redis/repair.js";
import { testRedis, testRedisCluster, uniquePrefix } from "./support/redis-client.js";

/** The stores' own tests keep message ids as long as a node does by default. */
const messageIdWindowSec = loadConfig({}).messageIdWindowSec;

/** Every test here runs on one redis-server and on the run's Redis Cluster (3 primaries). */
const targets = [
  { target: "redis", redis: testRedis(), subscriber: testRedis() },
  { target: "redis-cluster", redis: testRedisCluster(), subscriber: testRedisCluster({ shardedSubscribers: true }) },
];

for (const { target, redis } of targets) {
  describeStoreContract(target, async () => createRedisStores(redis, new RedisKeys(uniquePrefix("stores")), { messageIdWindowSec }));
}

describe.each(targets)("redis room store with an announcer ($target)", ({ redis, subscriber }) => {

  it("publishes each new message with its seq in the step that accepts it; never a repeat or a refused one", async () => {
    const keys = new RedisKeys(uniquePrefix("announce"));
    const stores = createRedisStores(redis, keys, { announceRoomMessage: roomAnnouncer(keys.prefix), messageIdWindowSec });
    const roomId = randomBytes(12).toString("base64url");
    await stores.rooms.create({ id: roomId, name: `r ${roomId}`, owner: "ana", passwordHash: null, createdAt: 1 }, { id: 1, key: "k1" }, 0);
    await stores.rooms.admit(roomId, "ana", null);
    const frames: string[] = [];
    const channel = `${keys.prefix}:sio#/#{room:${roomId}}#`;
    subscriber.on("smessage", (from: string, frame: string) => {
      if (from === channel) frames.push(frame);
    });
    await subscriber.ssubscribe(channel);
    const cap = { maxMessages: 100, maxAgeMs: 0 };
    const send = (keyId: number, clientId: string, ts: number) => stores.rooms.acceptMessage({ roomId, keyId, from: "Ana", ts, msg: `v1.${keyId}.m${ts}`, clientId }, cap);

    expect(await send(1, "first", 10)).toEqual({ seq: 1, ts: 10, duplicate: false, announced: true });
    expect(await send(1, "second", 11)).toEqual({ seq: 2, ts: 11, duplicate: false, announced: true });
    expect(await send(1, "first", 12)).toEqual({ seq: 1, ts: 10, duplicate: true, announced: false }); // a retry
    expect(await send(2, "third", 13)).toEqual({ staleKey: 1 });
    await stores.rooms.rotateKey(roomId, "k2");
    // The refused message's id was not kept: sent again under the new key, it is a new message.
    expect(await send(2, "third", 14)).toEqual({ seq: 3, ts: 14, duplicate: false, announced: true });

    await expect.poll(() => frames.length, { timeout: 5000 }).toBe(3);
    await new Promise((resolve) => setTimeout(resolve, 50)); // nothing more arrives
    const payloads = frames.map((frame) => JSON.parse(frame).data.packet.data);
    expect(payloads).toEqual([
      ["text", { roomId, seq: 1, from: "Ana", ts: 10, msg: "v1.1.m10" }],
      ["text", { roomId, seq: 2, from: "Ana", ts: 11, msg: "v1.1.m11" }],
      ["text", { roomId, seq: 3, from: "Ana", ts: 14, msg: "v1.2.m14" }],
    ]);
    await subscriber.sunsubscribe(channel);
  });

  it("keeps no message id, and no seq, from an accept whose append failed", async () => {
    const keys = new RedisKeys(uniquePrefix("failed-append"));
    const stores = createRedisStores(redis, keys, { announceRoomMessage: roomAnnouncer(keys.prefix), messageIdWindowSec });
    const roomId = randomBytes(12).toString("base64url");
    await stores.rooms.create({ id: roomId, name: `r ${roomId}`, owner: "ana", passwordHash: null, createdAt: 1 }, { id: 1, key: "k1" }, 0);
    await stores.rooms.admit(roomId, "ana", null);
    const message = { roomId, keyId: 1, from: "Ana", ts: 10, msg: "v1.1.m", clientId: "retried-id" };
    const cap = { maxMessages: 100, maxAgeMs: 0 };
    await redis.set(keys.roomHistory(roomId), "not a stream"); // the append fails (WRONGTYPE)
    await expect(stores.rooms.acceptMessage(message, cap)).rejects.toThrow(/WRONGTYPE/);
    await redis.del(keys.roomHistory(roomId));
    // The retry is a new message, numbered 1: not answered as a repeat of one never stored.
    expect(await stores.rooms.acceptMessage(message, cap)).toEqual({ seq: 1, ts: 10, duplicate: false, announced: true });
  });

  it("remembers a sender's message id for MESSAGE_ID_WINDOW_SEC, in rooms and conversations, and forgets expired ones", async () => {
    const keys = new RedisKeys(uniquePrefix("id-window"));
    const stores = createRedisStores(redis, keys, { messageIdWindowSec: 90 });
    const roomId = randomBytes(12).toString("base64url");
    await stores.rooms.create({ id: roomId, name: `r ${roomId}`, owner: "ana", passwordHash: null, createdAt: 1 }, { id: 1, key: "k1" }, 0);
    await stores.rooms.admit(roomId, "Ana", null);
    const cap = { maxMessages: 100, maxAgeMs: 0 };
    await stores.rooms.acceptMessage({ roomId, keyId: 1, from: "Ana", ts: 10_000, msg: "v1.1.m", clientId: "room-msg-1" }, cap);
    await stores.conversations.open("Ana", "Bia", "k1");
    await stores.conversations.accept({ from: "Ana", to: "Bia", keyId: 1, ts: 10_000, msg: "v1.1.w", clientId: "whisper-1" }, cap);

    const roomExpiry = await redis.zscore(keys.roomMessageIdExpiry(roomId), "ana:room-msg-1");
    const whisperExpiry = await redis.zscore(keys.conversationMessageIdExpiry(conversationId("ana", "bia")), "ana:whisper-1");
    expect([Number(roomExpiry), Number(whisperExpiry)]).toEqual([100_000, 100_000]);
    expect(await redis.hget(keys.roomMessageIds(roomId), "ana:room-msg-1")).toBe("1:10000");
    // Past the window, the next message drops the expired id, and the id may be used again.
    const later = { roomId, keyId: 1, from: "Ana", ts: 100_001, msg: "v1.1.n", clientId: "room-msg-2" };
    expect(await stores.rooms.acceptMessage(later, cap)).toMatchObject({ seq: 2, duplicate: false });
    expect(await redis.hkeys(keys.roomMessageIds(roomId))).toEqual(["ana:room-msg-2"]);
    expect(await redis.zcard(keys.roomMessageIdExpiry(roomId))).toBe(1);
  });

  it("deletes a room's remembered message ids, bars, edits and idle mark with the room (no key of it is left)", async () => {
    const keys = new RedisKeys(uniquePrefix("room-delete"));
    const stores = createRedisStores(redis, keys, { messageIdWindowSec: 600 });
    const roomId = randomBytes(12).toString("base64url");
    await stores.rooms.create({ id: roomId, name: `r ${roomId}`, owner: "ana", passwordHash: null, createdAt: 1 }, { id: 1, key: "k1" }, 0);
    await stores.rooms.admit(roomId, "ana", null);
    for (let i = 0; i < 5; i++) {
      await stores.rooms.acceptMessage({ roomId, keyId: 1, from: "ana", ts: Date.now(), msg: "v1.1.m", clientId: `message-${i}` }, { maxMessages: 100, maxAgeMs: 0 });
    }
    await stores.rooms.bar(roomId, "bob", Date.now());
    await stores.rooms.changeMessage({ roomId, seq: 1, by: "ana", at: Date.now(), edit: { keyId: 1, msg: "v1.1.e" } }, { maxAgeMs: 0 });
    await stores.rooms.changeMessage({ roomId, seq: 2, by: "ana", at: Date.now() }, { maxAgeMs: 0 });
    expect(await redis.zcard(keys.roomEdits(roomId))).toBe(2);
    // The replaced and the deleted envelopes are gone from storage, not just hidden.
    expect(await redis.xrange(keys.roomHistory(roomId), "1-0", "2-0")).toEqual([]);
    expect(await redis.xlen(keys.roomHistory(roomId))).toBe(3);
    const roomKeys = async () => {
      const found: string[] = [];
      for await (const key of scanKeys(redis, `${keys.prefix}:{room:${roomId}}:*`)) found.push(key);
      return found;
    };
    expect(await roomKeys()).not.toEqual([]);
    await stores.rooms.delete(roomId);
    expect(await roomKeys()).toEqual([]);
    expect(await redis.zscore(keys.emptyRooms, roomId)).toBeNull();
    expect(await redis.smembers(keys.userOwnedRooms("ana"))).toEqual([]);
  });
});
