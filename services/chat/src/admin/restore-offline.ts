/**
 * A restored data set, as after a restart: nobody online, so nobody in a room. A room's members are
 * the users who were in it when the backup was made (a backup may be taken while the nodes serve),
 * but presence and the node list are not in a backup: no node would ever sweep them out. So each
 * leaves here, through the room store, as a node takes a user out when their last socket closes
 * (rooms.ts removeMember: the room's shard, then the user's index and the directory's empty mark
 * and member count), and a private room then gets a new key, as after any departure: a former
 * member joins again with the password, and gets the old keys with the history.
 */
import type { RedisClient } from "../redis.js";
import { mintKey } from "../realtime/epoch-keys.js";
import type { RedisKeys } from "../stores/redis/keys.js";
import { scanKeys } from "../stores/redis/repair.js";
import { RedisRoomStore } from "../stores/redis/rooms.js";

export interface Departures {
  rooms: number;
  members: number;
  /** Private rooms given a new key. */
  rotated: number;
}

export async function everyoneLeaves(redis: RedisClient, keys: RedisKeys, now = Date.now()): Promise<Departures> {
  const rooms = new RedisRoomStore(redis, keys, null, 600);
  const done: Departures = { rooms: 0, members: 0, rotated: 0 };
  const metaPrefix = `${keys.prefix}:{room:`;
  for await (const meta of scanKeys(redis, keys.roomMetaPattern)) {
    const id = meta.slice(metaPrefix.length, meta.length - "}:meta".length);
    // Display names: the store takes a user out by the name it shows.
    const members = await redis.hvals(keys.roomMembers(id));
    if (members.length === 0) continue;
    let left = 0;
    for (const member of members) if ((await rooms.removeMember(id, member, now)).changed) left++;
    if (left === 0) continue;
    done.rooms++;
    done.members += left;
    const room = await rooms.get(id);
    if (room?.passwordHash) {
      await rooms.rotateKey(id, mintKey());
      done.rotated++;
    }
  }
  return done;
}
