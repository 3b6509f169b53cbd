import type { RedisClient } from "../../redis.js";
import { socketCountFields, tallyFields } from "../socket-count-fields.js";
import type { SocketAdmission, SocketCaps, SocketCountStore } from "../types.js";
import type { RedisKeys } from "./keys.js";
import { defineScript, type Script } from "./script.js";

/**
 * Each node counts its own sockets in a hash of its own (`u:<name>` and `a:<address>` fields) that
 * expires unless the node keeps it alive; a sorted set lists the nodes and until when their counts
 * are live. A handshake adds up its user's and address's counts over the live nodes (a few nodes:
 * a few HMGETs) and counts itself only if both are under their caps, in one script: no race
 * between nodes can overshoot. A dead node is never swept: its counts simply expire. The field `_`
 * marks counts written or kept alive by their node (see keepAlive).
 */

// KEYS: socketCountNodes, this node's counts. ARGV: nodeId, counts key prefix, user field, address
// field, per-user cap, per-address cap, now, ttlMs. The nodes' counts keys share KEYS' hash tag.
const ACQUIRE = `
local now, ttl = tonumber(ARGV[7]), tonumber(ARGV[8])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
local users, addresses = 0, 0
for _, node in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local counts = redis.call('HMGET', ARGV[2] .. node, ARGV[3], ARGV[4])
  users = users + (tonumber(counts[1]) or 0)
  addresses = addresses + (tonumber(counts[2]) or 0)
end
local perUser, perAddress = tonumber(ARGV[5]), tonumber(ARGV[6])
if perUser > 0 and users >= perUser then return 'user' end
if perAddress > 0 and addresses >= perAddress then return 'address' end
redis.call('HINCRBY', KEYS[2], ARGV[3], 1)
redis.call('HINCRBY', KEYS[2], ARGV[4], 1)
redis.call('PEXPIRE', KEYS[2], ttl)
return 'ok'`;

// KEYS: this node's counts. ARGV: user field, address field. Never below zero: counts lost with an
// expiry are not taken from someone else's.
const RELEASE = `
for i = 1, 2 do
  local left = tonumber(redis.call('HGET', KEYS[1], ARGV[i]) or 0)
  if left > 1 then redis.call('HINCRBY', KEYS[1], ARGV[i], -1)
  elseif left == 1 then redis.call('HDEL', KEYS[1], ARGV[i]) end
end`;

// KEYS: socketCountNodes, this node's counts. ARGV: nodeId, now, ttlMs.
const KEEP_ALIVE = `
redis.call('ZADD', KEYS[1], tonumber(ARGV[2]) + tonumber(ARGV[3]), ARGV[1])
if redis.call('HEXISTS', KEYS[2], '_') == 0 then return 0 end
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return 1`;

// KEYS: socketCountNodes, this node's counts. ARGV: nodeId, now, ttlMs, then field, count pairs.
// One HSET per pair: a node's whole tally may hold more values than Lua's unpack() takes.
const RESTORE = `
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], '_', 1)
for i = 4, #ARGV, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
redis.call('PEXPIRE', KEYS[2], ARGV[3])
redis.call('ZADD', KEYS[1], tonumber(ARGV[2]) + tonumber(ARGV[3]), ARGV[1])`;

export class RedisSocketCountStore implements SocketCountStore {
  private readonly acquireScript: Script;
  private readonly releaseScript: Script;
  private readonly keepAliveScript: Script;
  private readonly restoreScript: Script;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
  ) {
    this.acquireScript = defineScript(redis, "salaSocketAcquire", 2, ACQUIRE);
    this.releaseScript = defineScript(redis, "salaSocketRelease", 1, RELEASE);
    this.keepAliveScript = defineScript(redis, "salaSocketKeepAlive", 2, KEEP_ALIVE);
    this.restoreScript = defineScript(redis, "salaSocketRestore", 2, RESTORE);
  }

  async acquire(nodeId: string, username: string, address: string, caps: SocketCaps, now: number, ttlMs: number): Promise<SocketAdmission> {
    const { user, address: addressField } = socketCountFields(username, address);
    const { socketCountNodes, nodeSocketCountsPrefix } = this.keys;
    const args = [nodeId, nodeSocketCountsPrefix, user, addressField, caps.perUser, caps.perAddress, now, ttlMs];
    return (await this.acquireScript([socketCountNodes, this.keys.nodeSocketCounts(nodeId)], args)) as SocketAdmission;
  }

  async release(nodeId: string, username: string, address: string): Promise<void> {
    const { user, address: addressField } = socketCountFields(username, address);
    await this.releaseScript([this.keys.nodeSocketCounts(nodeId)], [user, addressField]);
  }

  async keepAlive(nodeId: string, now: number, ttlMs: number): Promise<boolean> {
    return Number(await this.keepAliveScript([this.keys.socketCountNodes, this.keys.nodeSocketCounts(nodeId)], [nodeId, now, ttlMs])) === 1;
  }

  async restore(nodeId: string, sockets: Array<{ username: string; address: string }>, now: number, ttlMs: number): Promise<void> {
    const pairs = [...tallyFields(sockets)].flat();
    await this.restoreScript([this.keys.socketCountNodes, this.keys.nodeSocketCounts(nodeId)], [nodeId, now, ttlMs, ...pairs]);
  }

  async forgetNode(nodeId: string): Promise<void> {
    await this.redis.multi().del(this.keys.nodeSocketCounts(nodeId)).zrem(this.keys.socketCountNodes, nodeId).exec();
  }
}
