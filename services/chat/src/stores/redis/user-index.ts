/**
 * What each user's keys index about rooms: the rooms they are a member of (what a reconnecting
 * socket rejoins) and the rooms they own (the per-user room quota). Both are derived from the rooms'
 * own keys: written after the room's shard decided (rooms.ts), and rebuilt from the rooms' member
 * hashes and owners by the repair (repair.ts). Every operation touches one key, so each user's keys
 * may live on any shard of a Redis Cluster.
 */
import type { RedisClient } from "../../redis.js";
import type { RedisKeys } from "./keys.js";
import { defineScript, type Script } from "./script.js";

// KEYS: the owner's owned rooms. ARGV: id, the most rooms one may own (0: no limit). → 1 counted, 0 over.
const RESERVE_OWNED = `
local most = tonumber(ARGV[2])
if most > 0 and redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 and redis.call('SCARD', KEYS[1]) >= most then return 0 end
redis.call('SADD', KEYS[1], ARGV[1])
return 1`;

export class UserRoomIndex {
  private readonly reserveOwnedScript: Script;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
  ) {
    this.reserveOwnedScript = defineScript(redis, "salaUserReserveOwned", 1, RESERVE_OWNED);
  }

  /** Counts the room among its owner's, unless they own `most` already (0: no limit). */
  async reserveOwned(owner: string, id: string, most: number): Promise<boolean> {
    return Number(await this.reserveOwnedScript([this.keys.userOwnedRooms(owner)], [id, most])) === 1;
  }

  async releaseOwned(owner: string, id: string): Promise<void> {
    await this.redis.srem(this.keys.userOwnedRooms(owner), id);
  }

  /** The rooms counted as the user's own (a reservation whose room was never made may be among them). */
  owned(owner: string): Promise<string[]> {
    return this.redis.smembers(this.keys.userOwnedRooms(owner));
  }

  async joined(user: string, id: string): Promise<void> {
    await this.redis.sadd(this.keys.userRooms(user), id);
  }

  async left(user: string, id: string): Promise<void> {
    await this.redis.srem(this.keys.userRooms(user), id);
  }

  /** With `limit`, at most that many (SRANDMEMBER: not the whole set, however many rooms the user is in). */
  rooms(user: string, limit?: number): Promise<string[]> {
    if (limit === undefined) return this.redis.smembers(this.keys.userRooms(user));
    return this.redis.srandmember(this.keys.userRooms(user), limit);
  }
}
