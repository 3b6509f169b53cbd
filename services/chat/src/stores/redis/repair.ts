/**
 * Rebuilds what Sala derives from the rooms' own keys and the users' records, after a node died in
 * the middle of an operation that spans scopes (rooms.ts), or after an upgrade from data made
 * before an index existed:
 *
 * - the directory: a listed room without keys is forgotten; a room with keys that was never listed
 *   (a creation cut short, older than a minute) is deleted; names and confusable keys (look-alike
 *   checks, domain/confusables.ts) are claimed for every room and user that has none, and released
 *   where they name a room that is gone; the idle index lists exactly the empty rooms;
 * - each user's room sets: the rooms they are a member of (from the member hashes) and the rooms
 *   they own (from the rooms' owners).
 *
 * It walks every room and user key (SCAN on every primary): an operator's command
 * (`npm run admin -- repair`) and a node's background task at start, never a request path. It may
 * run while the cluster serves: an entry is removed from a user's set only after the room's shard
 * confirms, right then, that they are not a member (or not the owner).
 */
import { Cluster, type ChainableCommander } from "ioredis";
import { confusableKey } from "../../domain/confusables.js";
import type { RedisClient } from "../../redis.js";
import { nameKey } from "../types.js";
import type { RedisKeys } from "./keys.js";
import type { RedisRoomStore } from "./rooms.js";

export interface RepairReport {
  /** Names given a confusable key (users, rooms). */
  userNames: number;
  roomNames: number;
  /** Empty rooms that had no idle mark and are idle from this run on. */
  idleRooms: number;
  /** Listed rooms without keys, and their names, forgotten. */
  danglingEntries: number;
  /** Rooms with keys that were never listed, deleted. */
  orphanedRooms: number;
  /** Entries added to or removed from users' room sets (joined and owned). */
  userSetFixes: number;
  /** Names that look like another existing name (`name ~ holder`): both keep working. */
  clashes: string[];
}

/** A room whose keys exist but that no index lists is being created for at most this long. */
const CREATION_GRACE_MS = 60_000;
const USER_KEY = /^[a-z0-9][a-z0-9_.-]*$/;

/** Every key matching `pattern`, on one Redis server or on every primary of a Redis Cluster. */
export async function* scanKeys(redis: RedisClient, pattern: string): AsyncGenerator<string> {
  const servers = redis instanceof Cluster ? redis.nodes("master") : [redis];
  for (const server of servers) {
    let cursor = "0";
    do {
      const [next, batch] = await server.scan(cursor, "MATCH", pattern, "COUNT", 500);
      cursor = next;
      yield* batch;
    } while (cursor !== "0");
  }
}

interface LiveRoom {
  id: string;
  name: string;
  nameKey: string;
  owner: string;
  skeleton: string | null;
  emptySince: string | null;
  createdAt: number;
  members: string[];
}

export async function repairStores(redis: RedisClient, keys: RedisKeys, rooms: RedisRoomStore, now = Date.now()): Promise<RepairReport> {
  const report: RepairReport = { userNames: 0, roomNames: 0, idleRooms: 0, danglingEntries: 0, orphanedRooms: 0, userSetFixes: 0, clashes: [] };
  const listed = new Set(await rooms.directory.roomIds());
  const withKeys = new Set<string>();
  const metaPrefix = `${keys.prefix}:{room:`;
  for await (const key of scanKeys(redis, keys.roomMetaPattern)) withKeys.add(key.slice(metaPrefix.length, key.length - "}:meta".length));

  const live: LiveRoom[] = [];
  for (const id of new Set([...listed, ...withKeys])) {
    const room = await readRoom(redis, keys, id);
    if (!room) {
      await rooms.directory.release(id, "", "", false);
      report.danglingEntries++;
    } else if (!listed.has(id)) {
      if (now - room.createdAt < CREATION_GRACE_MS) continue;
      await rooms.shard.drop(id);
      await rooms.userIndex.releaseOwned(nameKey(room.owner), id);
      report.orphanedRooms++;
    } else live.push(room);
  }

  const joined = new Map<string, Set<string>>();
  const owned = new Map<string, Set<string>>();
  const add = (map: Map<string, Set<string>>, user: string, id: string) => map.set(user, (map.get(user) ?? new Set()).add(id));
  for (const room of live) {
    await claimRoomName(redis, keys, room, report);
    for (const member of room.members) add(joined, member, room.id);
    if (USER_KEY.test(nameKey(room.owner))) add(owned, nameKey(room.owner), room.id);
    if (room.members.length > 0) await rooms.directory.markOccupied(room.id);
    else {
      let since = Number(room.emptySince);
      if (!room.emptySince) {
        since = now;
        await redis.hset(keys.roomMeta(room.id), "emptySince", since);
        report.idleRooms++;
      }
      await redis.zadd(keys.emptyRooms, "NX", since, room.id);
    }
  }
  const liveIds = new Set(live.map((room) => room.id));
  report.danglingEntries += await releaseStaleNames(redis, keys, rooms, liveIds);

  const seen = { joined: new Set<string>(), owned: new Set<string>() };
  const userPrefix = `${keys.prefix}:user:`;
  for await (const key of scanKeys(redis, keys.userPattern)) {
    const [name = "", suffix] = key.slice(userPrefix.length).split(":");
    if (!USER_KEY.test(name)) continue;
    if (suffix === undefined) await claimUserName(redis, keys, name, report);
    else if (suffix === "rooms") {
      seen.joined.add(name);
      report.userSetFixes += await reconcile(redis, key, joined.get(name), (id) => rooms.isMember(id, name));
    } else if (suffix === "owned") {
      seen.owned.add(name);
      report.userSetFixes += await reconcile(redis, key, owned.get(name), async (id) => nameKey((await rooms.get(id))?.owner ?? "") === name);
    }
  }
  for (const [name, ids] of joined) if (!seen.joined.has(name)) report.userSetFixes += await reconcile(redis, keys.userRooms(name), ids, (id) => rooms.isMember(id, name));
  for (const [name, ids] of owned) {
    if (!seen.owned.has(name)) report.userSetFixes += await reconcile(redis, keys.userOwnedRooms(name), ids, async (id) => nameKey((await rooms.get(id))?.owner ?? "") === name);
  }
  return report;
}

async function readRoom(redis: RedisClient, keys: RedisKeys, id: string): Promise<LiveRoom | null> {
  const pipeline: ChainableCommander = redis.pipeline();
  pipeline.hmget(keys.roomMeta(id), "name", "nameKey", "owner", "skeleton", "emptySince", "createdAt").hkeys(keys.roomMembers(id));
  const [[metaError, meta], [membersError, members]] = (await pipeline.exec()) as Array<[Error | null, unknown]> as [[Error | null, Array<string | null>], [Error | null, string[]]];
  if (metaError || membersError) throw metaError ?? membersError;
  const [name, roomNameKey, owner, skeleton, emptySince, createdAt] = meta;
  if (!name || !owner) return null;
  return { id, name, nameKey: roomNameKey ?? nameKey(name), owner, skeleton: skeleton ?? null, emptySince: emptySince ?? null, createdAt: Number(createdAt ?? 0), members };
}

/** Claims a name entry and a confusable key for a room that lacks them (first holder wins). */
async function claimRoomName(redis: RedisClient, keys: RedisKeys, room: LiveRoom, report: RepairReport): Promise<void> {
  if ((await redis.hsetnx(keys.roomNames, room.nameKey, room.id)) === 0) {
    const holder = await redis.hget(keys.roomNames, room.nameKey);
    if (holder !== room.id) report.clashes.push(`room ${room.name} = ${(await redis.hget(keys.roomMeta(holder ?? ""), "name")) ?? holder}`);
  }
  if (room.skeleton) return;
  const skeleton = confusableKey(room.name);
  if ((await redis.hsetnx(keys.roomSkeletons, skeleton, room.id)) === 1) {
    await redis.hset(keys.roomMeta(room.id), "skeleton", skeleton);
    report.roomNames++;
    return;
  }
  const holder = await redis.hget(keys.roomSkeletons, skeleton);
  if (holder === room.id) await redis.hset(keys.roomMeta(room.id), "skeleton", skeleton);
  else report.clashes.push(`room ${room.name} ~ ${(await redis.hget(keys.roomMeta(holder ?? ""), "name")) ?? holder}`);
}

async function claimUserName(redis: RedisClient, keys: RedisKeys, name: string, report: RepairReport): Promise<void> {
  const display = await redis.hget(keys.user(name), "username");
  if (!display) return;
  const skeleton = confusableKey(display);
  if ((await redis.hsetnx(keys.userSkeletons, skeleton, name)) === 1) {
    report.userNames++;
    return;
  }
  const holder = await redis.hget(keys.userSkeletons, skeleton);
  if (holder === name || !holder) return;
  const holderDisplay = await redis.hget(keys.user(holder), "username");
  // A claim left by a registration cut short (no account): this name takes it over.
  if (!holderDisplay) {
    await redis.hset(keys.userSkeletons, skeleton, name);
    report.userNames++;
  } else report.clashes.push(`user ${display} ~ ${holderDisplay}`);
}

/** Forgets name and confusable-key entries that name a room that is gone. → how many. */
async function releaseStaleNames(redis: RedisClient, keys: RedisKeys, rooms: RedisRoomStore, liveIds: Set<string>): Promise<number> {
  let released = 0;
  for (const [hash, isName] of [[keys.roomNames, true], [keys.roomSkeletons, false]] as const) {
    const entries = await redis.hgetall(hash);
    for (const [field, id] of Object.entries(entries)) {
      if (liveIds.has(id)) continue;
      await rooms.directory.release(id, isName ? field : "", isName ? "" : field, false);
      released++;
    }
  }
  for (const id of await redis.zrange(keys.emptyRooms, "0", "-1")) {
    if (!liveIds.has(id)) await rooms.directory.release(id, "", "", false);
  }
  return released;
}

/**
 * Makes the set at `key` hold `expected` (read a moment ago): an id missing is added, and an extra
 * one removed, only once `belongs` (asked of the room's shard, now) agrees. → entries changed.
 */
async function reconcile(redis: RedisClient, key: string, expected: Set<string> | undefined, belongs: (id: string) => Promise<boolean>): Promise<number> {
  const actual = new Set(await redis.smembers(key));
  let fixes = 0;
  for (const id of expected ?? []) {
    if (actual.has(id) || !(await belongs(id))) continue;
    await redis.sadd(key, id);
    fixes++;
  }
  for (const id of actual) {
    if (expected?.has(id) || (await belongs(id))) continue;
    await redis.srem(key, id);
    fixes++;
  }
  return fixes;
}
