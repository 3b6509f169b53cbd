/**
 * Rebuilds the lobby's indexes (keys.ts: presenceByName, roomsByName, roomsByActivity) from what
 * they index: after an upgrade from data made before they existed, or a failover that lost a write.
 * Part of the repair (repair.ts): it reads whole indexes, so never on a request path. Each fix is a
 * script that checks the source of truth in the same step, so it can run while the cluster serves.
 */
import { nameKey } from "@sala/protocol";
import type { RedisClient } from "../../redis.js";
import type { RedisKeys } from "./keys.js";
import { defineScript } from "./script.js";

// KEYS: roomIndex, roomNames, roomsByName, roomsByActivity. ARGV: id, nameKey, member count.
// A listed room is in both lobby indexes (by its name only while the name is its own). → fixes made.
const INDEX_ROOM = `
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
local fixes = 0
if redis.call('HGET', KEYS[2], ARGV[2]) == ARGV[1] and not redis.call('ZSCORE', KEYS[3], ARGV[2]) then
  redis.call('ZADD', KEYS[3], 0, ARGV[2])
  fixes = 1
end
if redis.call('ZSCORE', KEYS[4], ARGV[1]) ~= ARGV[3] then
  redis.call('ZADD', KEYS[4], ARGV[3], ARGV[1])
  fixes = fixes + 1
end
return fixes`;

// KEYS: roomIndex, roomNames, roomsByName, roomsByActivity. ARGV: 'name' or 'id', the entry.
// An entry of a lobby index whose room is no longer listed goes. → 1 removed, 0 kept.
const PRUNE_ROOM_ENTRY = `
if ARGV[1] == 'name' then
  if redis.call('HEXISTS', KEYS[2], ARGV[2]) == 1 then return 0 end
  return redis.call('ZREM', KEYS[3], ARGV[2])
end
if redis.call('ZSCORE', KEYS[1], ARGV[2]) then return 0 end
return redis.call('ZREM', KEYS[4], ARGV[2])`;

// KEYS: presence, presenceByName, presenceNames. ARGV: name key, '1' when an offline confirmation
// is pending for the user. The index lists the users online, and those in their grace period until
// it is confirmed (a user whose confirmation was lost is taken off here). → 1 fixed.
const SYNC_PRESENCE = `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  return redis.call('ZADD', KEYS[2], 0, ARGV[1])
end
if ARGV[2] == '1' then return 0 end
redis.call('HDEL', KEYS[3], ARGV[1])
return redis.call('ZREM', KEYS[2], ARGV[1])`;

/** A room the repair found alive and listed. */
export interface IndexedRoom {
  id: string;
  nameKey: string;
}

/** → entries added, corrected or removed. */
export async function repairLobbyIndexes(redis: RedisClient, keys: RedisKeys, live: IndexedRoom[]): Promise<number> {
  const roomKeys = [keys.roomIndex, keys.roomNames, keys.roomsByName, keys.roomsByActivity];
  const indexRoom = defineScript(redis, "salaRepairIndexRoom", 4, INDEX_ROOM);
  const pruneRoomEntry = defineScript(redis, "salaRepairPruneRoomEntry", 4, PRUNE_ROOM_ENTRY);
  const syncPresence = defineScript(redis, "salaRepairSyncPresence", 3, SYNC_PRESENCE);
  let fixes = 0;
  for (const room of live) {
    // Counted again right before: the walk over every room takes a while, and joins go on meanwhile.
    const members = await redis.hlen(keys.roomMembers(room.id));
    fixes += Number(await indexRoom(roomKeys, [room.id, room.nameKey, members]));
  }
  for (const name of await redis.zrange(keys.roomsByName, "0", "-1")) fixes += Number(await pruneRoomEntry(roomKeys, ["name", name]));
  for (const id of await redis.zrange(keys.roomsByActivity, "0", "-1")) fixes += Number(await pruneRoomEntry(roomKeys, ["id", id]));
  const online = new Set([...(await redis.hkeys(keys.presence)), ...(await redis.zrange(keys.presenceByName, "0", "-1")), ...(await redis.hkeys(keys.presenceNames))]);
  // pendingOffline holds "<rev>:<display name>" (presence.ts deferOffline).
  const pending = new Set((await redis.zrange(keys.pendingOffline, "0", "-1")).map((entry) => nameKey(entry.slice(entry.indexOf(":") + 1))));
  for (const name of online) fixes += Number(await syncPresence([keys.presence, keys.presenceByName, keys.presenceNames], [name, pending.has(name) ? "1" : "0"]));
  // The nodes' ticks read the first page again only when the lobby's revision moved.
  if (fixes > 0) await redis.incr(keys.lobbyRev);
  return fixes;
}
