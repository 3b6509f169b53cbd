/**
 * Rebuilds what Sala derives from the rooms' own keys and the users' records, after a node died in
 * the middle of an operation that spans scopes (rooms.ts), or after an upgrade from data made
 * before an index existed:
 *
 * - the directory: a listed room without keys is forgotten; a room with keys that no index lists
 *   (a creation cut short after its keys were written, older than a minute, or an entry a failover
 *   lost) is listed again, or deleted when its name went to another room meanwhile and it has no
 *   members; names and confusable keys (look-alike checks, domain/confusables.ts) are claimed for
 *   every room and user that has none, and released where they name a room whose keys are gone
 *   (checked right then, so a room being created keeps them); the idle index lists the empty rooms;
 * - each user's room sets: the rooms they are a member of (from the member hashes) and the rooms
 *   they own (from the rooms' owners);
 * - the lobby's indexes (lobby-repair.ts).
 *
 * It walks every room and user key (SCAN on every primary): an operator's command
 * (`npm run admin -- repair`) and a node's background task at start, never a request path. It may
 * run while the cluster serves: it writes a room's meta only while the room exists (a script on its
 * shard), and an entry removed from a user's set is put back if the room's shard says, right after,
 * that they are a member (the live path admits on the shard first, then writes the set).
 */
import { Cluster, type ChainableCommander } from "ioredis";
import { confusableKey } from "../../domain/confusables.js";
import type { RedisClient } from "../../redis.js";
import { nameKey } from "../types.js";
import type { RedisKeys } from "./keys.js";
import { repairLobbyIndexes } from "./lobby-repair.js";
import type { RedisRoomStore } from "./rooms.js";
import { defineScript, type Script } from "./script.js";

// KEYS: a room's meta. ARGV: field, value. Only while the room exists: never a meta hash of its own
// for a room deleted meanwhile. → 1 written, 0 gone.
const SET_ROOM_FIELD = `
if redis.call('HEXISTS', KEYS[1], 'name') == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1`;

export interface RepairReport {
  /** Names given a confusable key (users, rooms). */
  userNames: number;
  roomNames: number;
  /** Empty rooms that had no idle mark and are idle from this run on. */
  idleRooms: number;
  /** Listed rooms without keys, and their names, forgotten. */
  danglingEntries: number;
  /** Rooms with keys that no index listed: listed again, or deleted (their name went to another room, no members). */
  relistedRooms: number;
  orphanedRooms: number;
  /** Entries added to or removed from users' room sets (joined and owned). */
  userSetFixes: number;
  /** Entries of the lobby's indexes (users online by name, rooms by name and by member count) added, corrected or removed. */
  lobbyEntries: number;
  /** Accounts listed in the user directory, and entries of deleted accounts removed from it. */
  directoryEntries: number;
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
  const report: RepairReport = { userNames: 0, roomNames: 0, idleRooms: 0, danglingEntries: 0, relistedRooms: 0, orphanedRooms: 0, userSetFixes: 0, lobbyEntries: 0, directoryEntries: 0, clashes: [] };
  const setRoomField = defineScript(redis, "salaRepairSetRoomField", 1, SET_ROOM_FIELD);
  const listed = new Set(await rooms.directory.roomIds());
  const withKeys = new Set<string>();
  const metaPrefix = `${keys.prefix}:{room:`;
  for await (const key of scanKeys(redis, keys.roomMetaPattern)) withKeys.add(key.slice(metaPrefix.length, key.length - "}:meta".length));

  const live: LiveRoom[] = [];
  for (const id of new Set([...listed, ...withKeys])) {
    const room = await readRoom(redis, keys, id);
    if (!room) {
      await rooms.directory.release(id, "", "");
      report.danglingEntries++;
    } else if (!listed.has(id)) {
      if (now - room.createdAt < CREATION_GRACE_MS) continue; // being created: its own steps list it
      const claim = await rooms.directory.claim(id, room.nameKey, room.skeleton ?? confusableKey(room.name), room.createdAt);
      if ("rev" in claim) {
        report.relistedRooms++;
        live.push(room);
      } else if (room.members.length === 0) {
        await rooms.shard.drop(id);
        await rooms.userIndex.releaseOwned(nameKey(room.owner), id);
        report.orphanedRooms++;
      } else report.clashes.push(`room ${room.name} is not listed: its name went to another room, and it has members`);
    } else live.push(room);
  }

  const joined = new Map<string, Set<string>>();
  const owned = new Map<string, Set<string>>();
  const add = (map: Map<string, Set<string>>, user: string, id: string) => map.set(user, (map.get(user) ?? new Set()).add(id));
  for (const room of live) {
    await claimRoomName(redis, keys, room, report, setRoomField);
    for (const member of room.members) add(joined, member, room.id);
    if (USER_KEY.test(nameKey(room.owner))) add(owned, nameKey(room.owner), room.id);
    if (room.members.length > 0) await rooms.directory.markOccupied(room.id);
    else {
      let since = Number(room.emptySince);
      if (!room.emptySince) {
        since = now;
        if (!(await setRoomField([keys.roomMeta(room.id)], ["emptySince", since]))) continue;
        report.idleRooms++;
      }
      await redis.zadd(keys.emptyRooms, "NX", since, room.id);
    }
  }
  const liveIds = new Set(live.map((room) => room.id));
  report.danglingEntries += await releaseStaleNames(redis, keys, rooms, liveIds);
  report.lobbyEntries = await repairLobbyIndexes(redis, keys, live);

  const seen = { joined: new Set<string>(), owned: new Set<string>() };
  const userPrefix = `${keys.prefix}:user:`;
  for await (const key of scanKeys(redis, keys.userPattern)) {
    const [name = "", suffix] = key.slice(userPrefix.length).split(":");
    if (!USER_KEY.test(name)) continue;
    if (suffix === undefined) {
      await claimUserName(redis, keys, name, report);
      report.directoryEntries += await listInDirectory(redis, keys, name);
    }
    else if (suffix === "rooms") {
      seen.joined.add(name);
      report.userSetFixes += await reconcile(redis, key, joined.get(name), (id) => rooms.isMember(id, name));
    } else if (suffix === "owned") {
      seen.owned.add(name);
      report.userSetFixes += await reconcile(redis, key, owned.get(name), async (id) => nameKey((await rooms.get(id))?.owner ?? "") === name);
    }
  }
  report.directoryEntries += await dropDeletedFromDirectory(redis, keys);
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
async function claimRoomName(redis: RedisClient, keys: RedisKeys, room: LiveRoom, report: RepairReport, setRoomField: Script): Promise<void> {
  if ((await redis.hsetnx(keys.roomNames, room.nameKey, room.id)) === 0) {
    const holder = await redis.hget(keys.roomNames, room.nameKey);
    if (holder !== room.id) report.clashes.push(`room ${room.name} = ${(await redis.hget(keys.roomMeta(holder ?? ""), "name")) ?? holder}`);
  } else if (!(await redis.exists(keys.roomMeta(room.id)))) {
    // Deleted since it was read: the name is not kept for it.
    await redis.eval("if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then redis.call('HDEL', KEYS[1], ARGV[1]) end", 1, keys.roomNames, room.nameKey, room.id);
    return;
  }
  if (room.skeleton) return;
  const skeleton = confusableKey(room.name);
  const holder = (await redis.hsetnx(keys.roomSkeletons, skeleton, room.id)) === 1 ? room.id : await redis.hget(keys.roomSkeletons, skeleton);
  if (holder !== room.id) {
    report.clashes.push(`room ${room.name} ~ ${(await redis.hget(keys.roomMeta(holder ?? ""), "name")) ?? holder}`);
    return;
  }
  if (await setRoomField([keys.roomMeta(room.id)], ["skeleton", skeleton])) report.roomNames++;
  else await releaseSkeleton(redis, keys, room.id, skeleton);
}

/** Frees a confusable key claimed for a room deleted meanwhile. */
async function releaseSkeleton(redis: RedisClient, keys: RedisKeys, id: string, skeleton: string): Promise<void> {
  await redis.eval("if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then redis.call('HDEL', KEYS[1], ARGV[1]) end", 1, keys.roomSkeletons, skeleton, id);
}

/** Lists an account the directory misses (a registration cut short after writing the record). → 1 if listed now. */
async function listInDirectory(redis: RedisClient, keys: RedisKeys, name: string): Promise<number> {
  if (!(await redis.hexists(keys.user(name), "passwordHash"))) return 0;
  return Number(await redis.zadd(keys.userDirectory, "NX", 0, name));
}

/** Removes directory entries whose account is gone (a deletion cut short), checked right then. → how many. */
async function dropDeletedFromDirectory(redis: RedisClient, keys: RedisKeys): Promise<number> {
  let removed = 0;
  let cursor = "0";
  do {
    const [next, flat] = await redis.zscan(keys.userDirectory, cursor, "COUNT", 500);
    cursor = next;
    for (let i = 0; i < flat.length; i += 2) {
      const name = flat[i]!;
      if (!USER_KEY.test(name) || !(await redis.hexists(keys.user(name), "passwordHash"))) removed += await redis.zrem(keys.userDirectory, name);
    }
  } while (cursor !== "0");
  return removed;
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

/**
 * Forgets name, confusable-key and idle entries that name a room whose keys are gone — checked on
 * the room's shard right then (a room being created has its keys before its names). → how many.
 */
async function releaseStaleNames(redis: RedisClient, keys: RedisKeys, rooms: RedisRoomStore, liveIds: Set<string>): Promise<number> {
  const gone = async (id: string) => !liveIds.has(id) && (await redis.exists(keys.roomMeta(id))) === 0;
  let released = 0;
  for (const [hash, isName] of [[keys.roomNames, true], [keys.roomSkeletons, false]] as const) {
    const entries = await redis.hgetall(hash);
    for (const [field, id] of Object.entries(entries)) {
      if (!(await gone(id))) continue;
      await rooms.directory.release(id, isName ? field : "", isName ? "" : field);
      released++;
    }
  }
  for (const id of await redis.zrange(keys.emptyRooms, "0", "-1")) {
    if (await gone(id)) await rooms.directory.release(id, "", "");
  }
  return released;
}

/**
 * Makes the set at `key` hold `expected` (read a moment ago): an id missing is added once `belongs`
 * (asked of the room's shard, now) agrees; an extra one is removed, then put back if `belongs`
 * says, after the removal, that it does (a join that came in between). → entries changed.
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
    if (expected?.has(id)) continue;
    await redis.srem(key, id);
    if (await belongs(id)) await redis.sadd(key, id);
    else fixes++;
  }
  return fixes;
}
