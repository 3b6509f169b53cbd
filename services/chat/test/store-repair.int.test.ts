/**
 * The repair (stores/redis/repair.ts) after operations cut short between their single-slot steps,
 * as a node dying mid-way leaves them, on one Redis server and on a Redis Cluster of 3 primaries.
 */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createRedisStores } from "../src/stores/redis/index.js";
import { RedisKeys } from "../src/stores/redis/keys.js";
import { RedisRoomStore } from "../src/stores/redis/rooms.js";
import { checkLayout, LegacyLayoutError, repairer } from "../src/stores/redis/startup.js";
import { testRedis, testRedisCluster, uniquePrefix } from "./support/redis-client.js";

const targets = [
  { target: "redis", redis: testRedis() },
  { target: "redis-cluster", redis: testRedisCluster() },
];
const newId = () => randomBytes(12).toString("base64url");
const HOUR = 3_600_000;

describe.each(targets)("repair ($target)", ({ redis }) => {
  it("rebuilds what interrupted creations, joins and deletions left, and changes nothing the second time", async () => {
    const keys = new RedisKeys(uniquePrefix("repair"));
    const stores = createRedisStores(redis, keys, { messageIdWindowSec: 600 });
    const rooms = stores.rooms as RedisRoomStore;
    const old = Date.now() - HOUR;
    const room = (name: string, owner: string) => ({ id: newId(), name, owner, passwordHash: null, createdAt: old });

    // A healthy room with two members.
    const kept = room("Kept", "ana");
    await rooms.create(kept, { id: 1, key: "k1" }, 0);
    await rooms.admit(kept.id, "ana", null);
    await rooms.admit(kept.id, "bia", null);
    // Interrupted after the room's shard admitted cao: his room set and the idle index never heard.
    const joinedHalf = room("Half joined", "ana");
    await rooms.create(joinedHalf, { id: 1, key: "k1" }, 0);
    await rooms.shard.admit(joinedHalf.id, "cao", "Cao", null);
    // A room set that lists a room its user left (the removal's second step was lost).
    await rooms.userIndex.joined("bia", joinedHalf.id);
    // Creations cut short after the room's keys were written: never listed. The first one's name
    // is free (it is listed again); the second's went to another room meanwhile (it goes).
    const unlisted = room("Never listed", "bia");
    await rooms.userIndex.reserveOwned("bia", unlisted.id, 0);
    await rooms.shard.write({ ...unlisted, nameKey: "never listed", skeleton: "never-listed" }, { id: 1, key: "k1" });
    const lostName = room("Taken since", "bia");
    await rooms.userIndex.reserveOwned("bia", lostName.id, 0);
    await rooms.shard.write({ ...lostName, nameKey: "taken since", skeleton: "taken-since" }, { id: 1, key: "k1" });
    const winner = room("Taken since", "eva");
    await rooms.create(winner, { id: 1, key: "k1" }, 0);
    // A deletion cut short after the room's keys went: the directory still lists it by name.
    const deletedHalf = room("Deleted half", "cao");
    await rooms.create(deletedHalf, { id: 1, key: "k1" }, 0);
    await rooms.admit(deletedHalf.id, "dan", null);
    await rooms.shard.delete(deletedHalf.id, undefined, Date.now());

    const report = await repairer(redis, keys)();
    expect(report).toMatchObject({ relistedRooms: 1, orphanedRooms: 1, clashes: [] });
    expect(report.danglingEntries).toBeGreaterThanOrEqual(1);
    // Room sets: from the member hashes.
    expect((await rooms.roomsOf("ana")).sort()).toEqual([kept.id].sort());
    expect(await rooms.roomsOf("bia")).toEqual([kept.id]);
    expect(await rooms.roomsOf("cao")).toEqual([joinedHalf.id]);
    expect(await rooms.roomsOf("dan")).toEqual([]);
    // Quotas: from the rooms' owners.
    expect((await redis.smembers(keys.userOwnedRooms("ana"))).sort()).toEqual([kept.id, joinedHalf.id].sort());
    expect(await redis.smembers(keys.userOwnedRooms("bia"))).toEqual([unlisted.id]);
    expect(await redis.smembers(keys.userOwnedRooms("cao"))).toEqual([]);
    // The directory: the unlisted room is listed, the one whose name went elsewhere is deleted,
    // and the half-deleted room's name is free again.
    expect(await rooms.get(lostName.id)).toBeNull();
    expect(await redis.hget(keys.roomNames, "deleted half")).toBeNull();
    expect((await stores.lobby.firstPage(100)).rooms.map((r) => r.name).sort()).toEqual(["Half joined", "Kept", "Never listed", "Taken since"]);
    expect(await rooms.create(room("Deleted half", "cao"), { id: 1, key: "k1" }, 0)).toMatchObject({ created: true });
    // The idle index lists exactly the empty rooms (none of these two).
    expect(await redis.zscore(keys.emptyRooms, joinedHalf.id)).toBeNull();
    // The lobby's activity index counts the member the directory never heard of.
    expect(await redis.zscore(keys.roomsByActivity, joinedHalf.id)).toBe("1");

    const again = await repairer(redis, keys)();
    expect(again).toEqual({ userNames: 0, roomNames: 0, idleRooms: 0, danglingEntries: 0, relistedRooms: 0, orphanedRooms: 0, userSetFixes: 0, lobbyEntries: 0, directoryEntries: 0, clashes: [] });
  });

  it("rebuilds the lobby's indexes (data from before they existed, or a lost write), and nothing the second time", async () => {
    const keys = new RedisKeys(uniquePrefix("repair-lobby"));
    const stores = createRedisStores(redis, keys, { messageIdWindowSec: 600 });
    const rooms = stores.rooms as RedisRoomStore;
    const made = ["Zebra", "apple", "Mango"].map((name) => ({ id: newId(), name, owner: "ana", passwordHash: null, createdAt: Date.now() - HOUR }));
    for (const r of made) await rooms.create(r, { id: 1, key: "k1" }, 0);
    const [zebra, apple, mango] = made as [(typeof made)[0], (typeof made)[0], (typeof made)[0]];
    for (const user of ["bia", "cao"]) await rooms.admit(mango.id, user, null);
    for (const user of ["Bia", "cao", "Dan"]) await stores.presence.connect("n1", user);
    const pages = async () => ({
      first: await stores.lobby.firstPage(10),
      rooms: (await stores.lobby.roomPage({ prefix: "", after: null, limit: 10 })).items.map((r) => r.name),
    });
    const healthy = await pages();
    // Data from before the indexes, plus entries that name nothing.
    await redis.del(keys.roomsByName, keys.roomsByActivity, keys.presenceByName);
    await redis.zadd(keys.roomsByName, 0, "gone room");
    await redis.zadd(keys.roomsByActivity, 5, newId());
    await redis.zadd(keys.presenceByName, 0, "ghost");
    expect((await stores.lobby.firstPage(10)).users).not.toEqual(healthy.first.users);

    const report = await repairer(redis, keys)();
    expect(report.lobbyEntries).toBe(3 + 3 + 3 + 3); // 3 names, 3 counts, 3 users put back; 3 strays removed
    const repaired = await pages();
    // The revision moved, so that the nodes' ticks read the first page again.
    expect(repaired.first.rev).toBeGreaterThan(healthy.first.rev);
    expect({ ...repaired, first: { ...repaired.first, rev: healthy.first.rev } }).toEqual(healthy);
    expect(healthy.first.users).toEqual(["Bia", "cao", "Dan"]);
    expect(healthy.first.rooms.map((r) => r.id)).toEqual([mango.id, ...[zebra.id, apple.id].sort().reverse()]);
    expect(healthy.rooms).toEqual(["apple", "Mango", "Zebra"]);
    expect((await repairer(redis, keys)()).lobbyEntries).toBe(0);
  });

  it("lists in the user directory an account a registration left unlisted, and drops a deleted account's entry", async () => {
    const keys = new RedisKeys(uniquePrefix("repair-directory"));
    const stores = createRedisStores(redis, keys, { messageIdWindowSec: 600 });
    for (const username of ["Ana", "bia", "Cao"]) await stores.users.create({ username, passwordHash: "h", createdAt: 1 });
    await redis.zrem(keys.userDirectory, "bia"); // cut short before the listing
    await redis.zadd(keys.userDirectory, 0, "gone"); // cut short after deleting the record
    expect((await stores.users.directory({ prefix: "", after: null, limit: 10 })).items).toEqual(["ana", "cao", "gone"]);

    const report = await repairer(redis, keys)();
    expect(report.directoryEntries).toBe(2);
    expect(await stores.users.directory({ prefix: "", after: null, limit: 10 })).toEqual({ items: ["ana", "bia", "cao"], next: null });
    expect(await stores.users.count()).toBe(3);
    expect((await repairer(redis, keys)()).directoryEntries).toBe(0);
  });

  it("frees at once, for a new room, the name and look-alike key of a room deleted half-way", async () => {
    const keys = new RedisKeys(uniquePrefix("half-deleted"));
    const rooms = new RedisRoomStore(redis, keys, null, 600);
    const gone = { id: newId(), name: "Reused", owner: "ana", passwordHash: null, createdAt: Date.now() };
    await rooms.create(gone, { id: 1, key: "k1" }, 0);
    await rooms.shard.delete(gone.id, undefined, Date.now()); // the directory never heard
    expect(await redis.hget(keys.roomNames, "reused")).toBe(gone.id);
    const again = { ...gone, id: newId() };
    expect(await rooms.create(again, { id: 1, key: "k1" }, 0)).toMatchObject({ created: true });
    expect(await redis.hget(keys.roomNames, "reused")).toBe(again.id);
    // A live holder still refuses the name.
    expect(await rooms.create({ ...gone, id: newId() }, { id: 1, key: "k1" }, 0)).toEqual({ created: false, reason: "name_taken" });
  });

  it("leaves a room being created (keys written a moment ago, not listed yet) alone", async () => {
    const keys = new RedisKeys(uniquePrefix("repair-young"));
    const rooms = new RedisRoomStore(redis, keys, null, 600);
    const id = newId();
    await rooms.shard.write({ id, name: "Young", nameKey: "young", skeleton: "young", owner: "ana", passwordHash: null, createdAt: Date.now() }, { id: 1, key: "k1" });
    expect((await repairer(redis, keys)()).orphanedRooms).toBe(0);
    expect(await rooms.get(id)).not.toBeNull();
  });

  it("a node refuses a store in the layout before the global hash tag", async () => {
    const keys = new RedisKeys(uniquePrefix("legacy"));
    await expect(checkLayout(redis, keys)).resolves.toBeUndefined();
    await redis.zadd(`${keys.prefix}:rooms`, 1, "old-room");
    await expect(checkLayout(redis, keys)).rejects.toThrow(LegacyLayoutError);
    await expect(checkLayout(redis, keys)).rejects.toThrow(/migrate-to-cluster/);
  });
});
