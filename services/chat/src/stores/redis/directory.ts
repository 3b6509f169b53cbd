/**
 * The global room directory, under the hash tag `{global}` (one shard of a Redis Cluster): room
 * names (unique, case-insensitively) and their confusable keys, the room index, the lobby's indexes
 * by name and by activity, the index of empty rooms the idle sweep reads, and the lobby revision
 * every change bumps. Each
 * operation is one script here; none touches a room's own keys or a user's (rooms.ts orders the
 * steps).
 */
import type { RedisClient } from "../../redis.js";
import type { RedisKeys } from "./keys.js";
import { defineScript, type Script } from "./script.js";

// KEYS: roomNames, roomSkeletons, roomIndex, emptyRooms, lobbyRev, roomsByName, roomsByActivity.
// ARGV: nameKey, id, confusable key, createdAt. → the lobby revision, -1 (name taken) or the id of
// the room whose name it looks like. A new room is empty: idle from its creation, and no members.
const CLAIM = `
local holder = redis.call('HGET', KEYS[1], ARGV[1])
if holder and holder ~= ARGV[2] then return -1 end
local lookalike = redis.call('HGET', KEYS[2], ARGV[3])
if lookalike and lookalike ~= ARGV[2] then return lookalike end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[3], ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[2])
redis.call('ZADD', KEYS[4], 'NX', ARGV[4], ARGV[2])
redis.call('ZADD', KEYS[6], 0, ARGV[1])
redis.call('ZADD', KEYS[7], 'NX', 0, ARGV[2])
return redis.call('INCR', KEYS[5])`;

// KEYS: as CLAIM. ARGV: id, nameKey ('' = unknown), confusable key ('' = unknown). Entries that
// name another room stay. → the lobby revision (every release moves it: the nodes' ticks read the
// first page again only when it does).
const RELEASE = `
if ARGV[2] ~= '' and redis.call('HGET', KEYS[1], ARGV[2]) == ARGV[1] then
  redis.call('HDEL', KEYS[1], ARGV[2])
  redis.call('ZREM', KEYS[6], ARGV[2])
end
if ARGV[3] ~= '' and redis.call('HGET', KEYS[2], ARGV[3]) == ARGV[1] then redis.call('HDEL', KEYS[2], ARGV[3]) end
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('ZREM', KEYS[7], ARGV[1])
return redis.call('INCR', KEYS[5])`;

// KEYS: emptyRooms, lobbyRev, roomIndex, roomsByActivity. ARGV: id, since (ms; '' = has members),
// member count. A member count changed: the room is (or is no longer) empty, its activity is its
// new count, and the lobby moves on. Not for a room the index no longer lists (deleted meanwhile).
// → the lobby revision.
const MEMBERSHIP_CHANGED = `
if redis.call('ZSCORE', KEYS[3], ARGV[1]) then
  if ARGV[2] == '' then redis.call('ZREM', KEYS[1], ARGV[1]) else redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1]) end
  redis.call('ZADD', KEYS[4], ARGV[3], ARGV[1])
end
return redis.call('INCR', KEYS[2])`;

export class RoomDirectory {
  private readonly claimScript: Script;
  private readonly releaseScript: Script;
  private readonly membershipChangedScript: Script;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
  ) {
    this.claimScript = defineScript(redis, "salaDirectoryClaim", 7, CLAIM);
    this.releaseScript = defineScript(redis, "salaDirectoryRelease", 7, RELEASE);
    this.membershipChangedScript = defineScript(redis, "salaDirectoryMembership", 4, MEMBERSHIP_CHANGED);
  }

  private directoryKeys(): string[] {
    const k = this.keys;
    return [k.roomNames, k.roomSkeletons, k.roomIndex, k.emptyRooms, k.lobbyRev, k.roomsByName, k.roomsByActivity];
  }

  /** Lists the room under its name: the lobby revision, or why not (the name, or one like it, is taken). */
  async claim(id: string, nameKey: string, skeleton: string, createdAt: number): Promise<{ rev: number } | { taken: true } | { lookalikeOf: string }> {
    const answer = await this.claimScript(this.directoryKeys(), [nameKey, id, skeleton, createdAt]);
    if (typeof answer === "string") return { lookalikeOf: answer };
    return Number(answer) === -1 ? { taken: true } : { rev: Number(answer) };
  }

  /** Forgets the room (and its name and confusable key, where they are still its own). */
  async release(id: string, nameKey: string, skeleton: string): Promise<number> {
    return Number(await this.releaseScript(this.directoryKeys(), [id, nameKey, skeleton]));
  }

  /** The room's member count changed; `emptySince`: it has none since then. → the lobby revision. */
  async membershipChanged(id: string, memberCount: number, emptySince: number | null): Promise<number> {
    const k = this.keys;
    return Number(await this.membershipChangedScript([k.emptyRooms, k.lobbyRev, k.roomIndex, k.roomsByActivity], [id, emptySince ?? "", memberCount]));
  }

  /** Records when a room the index lists as empty became so (its own meta says). */
  async markEmpty(id: string, since: number): Promise<void> {
    await this.redis.zadd(this.keys.emptyRooms, "XX", since, id);
  }

  async markOccupied(id: string): Promise<void> {
    await this.redis.zrem(this.keys.emptyRooms, id);
  }

  /** Ids of rooms empty since before `before`, oldest first. */
  idleRooms(before: number, limit: number): Promise<string[]> {
    return this.redis.zrangebyscore(this.keys.emptyRooms, "-inf", `(${before}`, "LIMIT", 0, limit);
  }

  /** The id of the room that holds this confusable key, if any. */
  holderOfSkeleton(skeleton: string): Promise<string | null> {
    return this.redis.hget(this.keys.roomSkeletons, skeleton);
  }

  roomIds(): Promise<string[]> {
    return this.redis.zrange(this.keys.roomIndex, "0", "-1");
  }
}
