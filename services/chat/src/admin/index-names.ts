/**
 * `npm run admin -- index-names`: look-alike checks (domain/confusables.ts) rely on an index of the
 * confusable keys of existing names, which the stores fill as names are created. Names created
 * before that index existed are not in it, so a look-alike of one would be accepted; this command
 * adds them, once, after an upgrade. Redis only: embedded stores start empty, index included.
 *
 * It walks every user hash (SCAN: an operator's command, never a request path) and the room index,
 * and claims each name's key with the same rule as creation (first holder wins). Two old names
 * that already look alike cannot both hold it: they are reported, and both keep working.
 *
 * The same walk over rooms fills what room quotas and idle expiry read, for rooms made before
 * them: each room counts among its owner's rooms, and one without members is idle from now.
 */
import type { Redis } from "ioredis";
import { confusableKey } from "../domain/confusables.js";
import type { RedisKeys } from "../stores/redis/keys.js";
import { nameKey } from "../stores/types.js";
import { defineScript } from "../stores/redis/script.js";

/** KEYS: user hash, userSkeletons. ARGV: name key, confusable key. → 1 claimed, 0 already its own, or the holder. */
const CLAIM_USER = `
if redis.call('HEXISTS', KEYS[1], 'username') == 0 then return 0 end
local holder = redis.call('HGET', KEYS[2], ARGV[2])
if holder == ARGV[1] then return 0 end
if holder then return holder end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[1])
return 1`;

/** KEYS: room meta, members, emptyRooms, owner's owned rooms. ARGV: id, now. → 1 when the room was marked idle. */
const INDEX_ROOM = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('SADD', KEYS[4], ARGV[1])
if redis.call('HLEN', KEYS[2]) > 0 then return 0 end
return redis.call('ZADD', KEYS[3], 'NX', ARGV[2], ARGV[1])`;

/** KEYS: room meta, roomSkeletons. ARGV: id, confusable key. Same answers; the room keeps its key for deletion. */
const CLAIM_ROOM = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local holder = redis.call('HGET', KEYS[2], ARGV[2])
if holder == ARGV[1] then return 0 end
if holder then return holder end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[1], 'skeleton', ARGV[2])
return 1`;

export interface IndexReport {
  users: number;
  rooms: number;
  /** Rooms without members that now count as idle from this run (ROOM_IDLE_EXPIRY_SEC). */
  idleRooms: number;
  /** Old names that look like another old name (`name ~ holder`). */
  clashes: string[];
}

const USER_KEY_NAME = /^[a-z0-9][a-z0-9_.-]*$/;

export async function indexNames(redis: Redis, keys: RedisKeys): Promise<IndexReport> {
  const claimUser = defineScript(redis, "salaIndexUserName", 2, CLAIM_USER);
  const claimRoom = defineScript(redis, "salaIndexRoomName", 2, CLAIM_ROOM);
  const indexRoom = defineScript(redis, "salaIndexRoom", 4, INDEX_ROOM);
  const report: IndexReport = { users: 0, rooms: 0, idleRooms: 0, clashes: [] };
  const userPrefix = keys.userPrefix;
  let cursor = "0";
  do {
    const [next, batch] = await redis.scan(cursor, "MATCH", `${userPrefix}*`, "COUNT", 500);
    cursor = next;
    for (const key of batch) {
      const name = key.slice(userPrefix.length);
      if (!USER_KEY_NAME.test(name)) continue; // `<name>:rooms` and the like
      const display = await redis.hget(key, "username");
      if (!display) continue;
      const result = await claimUser([key, keys.userSkeletons], [name, confusableKey(display)]);
      if (result === 1) report.users++;
      else if (typeof result === "string") report.clashes.push(`user ${display} ~ ${result}`);
    }
  } while (cursor !== "0");
  for (const id of await redis.zrange(keys.roomIndex, "0", "-1")) {
    const [name, skeleton, owner] = await redis.hmget(keys.roomMeta(id), "name", "skeleton", "owner");
    if (owner && USER_KEY_NAME.test(nameKey(owner))) {
      const args = [keys.roomMeta(id), keys.roomMembers(id), keys.emptyRooms, keys.userOwnedRooms(nameKey(owner))];
      if ((await indexRoom(args, [id, Date.now()])) === 1) report.idleRooms++;
    }
    if (!name || skeleton) continue;
    const result = await claimRoom([keys.roomMeta(id), keys.roomSkeletons], [id, confusableKey(name)]);
    if (result === 1) report.rooms++;
    else if (typeof result === "string") report.clashes.push(`room ${name} ~ ${(await redis.hget(keys.roomMeta(result), "name")) ?? result}`);
  }
  return report;
}
