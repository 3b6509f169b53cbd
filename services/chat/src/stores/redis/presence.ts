import type { RedisClient } from "../../redis.js";
import { nameKey, type PresenceStore, type PresenceTransition } from "../types.js";
import type { RedisKeys } from "./keys.js";
import { defineScript, type Script } from "./script.js";

// KEYS: nodeSockets, presence, presenceNames, lobbyRev, presenceByName, onlineRev. ARGV: nameKey, display name.
// Idempotent per node and user: a repeated call (a retry whose reply was lost, a re-registration
// racing a first socket) changes nothing.
const CONNECT = `
if redis.call('HSETNX', KEYS[1], ARGV[1], 1) == 0 then return 0 end
if redis.call('HINCRBY', KEYS[2], ARGV[1], 1) ~= 1 then return 0 end
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[5], 0, ARGV[1])
local rev = redis.call('INCR', KEYS[4])
redis.call('HSET', KEYS[6], ARGV[1], rev)
return rev`;

// KEYS: as CONNECT, without onlineRev. A node that was swept holds nothing any more, so it takes
// nothing back. The user stays in the lobby's indexes (presenceNames, presenceByName) until
// LEAVE_LOBBY, once their grace period is over.
const DISCONNECT = `
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return {0, ''} end
if redis.call('HINCRBY', KEYS[2], ARGV[1], -1) > 0 then return {0, ''} end
redis.call('HDEL', KEYS[2], ARGV[1])
local display = redis.call('HGET', KEYS[3], ARGV[1]) or ARGV[1]
return {redis.call('INCR', KEYS[4]), display}`;

// KEYS: as DISCONNECT, then nodes. ARGV: nodeId.
// Returns a flat list: display name, rev, display name, rev, ...
const SWEEP = `
redis.call('ZREM', KEYS[6], ARGV[1])
local entries = redis.call('HGETALL', KEYS[1])
redis.call('DEL', KEYS[1])
local offline = {}
for i = 1, #entries, 2 do
  local key = entries[i]
  if redis.call('HINCRBY', KEYS[2], key, -tonumber(entries[i + 1])) <= 0 then
    redis.call('HDEL', KEYS[2], key)
    offline[#offline + 1] = redis.call('HGET', KEYS[3], key) or key
    offline[#offline + 1] = redis.call('INCR', KEYS[4])
  end
end
return offline`;

// KEYS: presence, onlineRev, presenceByName, presenceNames, lobbyRev. ARGV: nameKey, rev of the
// offline transition. → the lobby revision of the removal, or 0 when the user came back since.
const LEAVE_LOBBY = `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 0 end
if tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0') > tonumber(ARGV[2]) then return 0 end
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('HDEL', KEYS[4], ARGV[1])
return redis.call('INCR', KEYS[5])`;

// KEYS: pendingOffline. ARGV: now, batch size. Takes (removes and returns) the due entries.
const TAKE_DUE = `
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
if #due > 0 then redis.call('ZREM', KEYS[1], unpack(due)) end
return due`;

export class RedisPresenceStore implements PresenceStore {
  private readonly connectScript: Script;
  private readonly disconnectScript: Script;
  private readonly sweepScript: Script;
  private readonly takeDueScript: Script;
  private readonly leaveLobbyScript: Script;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
  ) {
    this.connectScript = defineScript(redis, "salaPresenceConnect", 6, CONNECT);
    this.disconnectScript = defineScript(redis, "salaPresenceDisconnect", 5, DISCONNECT);
    this.sweepScript = defineScript(redis, "salaPresenceSweep", 6, SWEEP);
    this.takeDueScript = defineScript(redis, "salaPresenceTakeDue", 1, TAKE_DUE);
    this.leaveLobbyScript = defineScript(redis, "salaPresenceLeaveLobby", 5, LEAVE_LOBBY);
  }

  private presenceKeys(nodeId: string): string[] {
    const k = this.keys;
    return [k.nodeSockets(nodeId), k.presence, k.presenceNames, k.lobbyRev, k.presenceByName];
  }

  async connect(nodeId: string, username: string): Promise<PresenceTransition | null> {
    const rev = Number(await this.connectScript([...this.presenceKeys(nodeId), this.keys.presenceOnlineRev], [nameKey(username), username]));
    return rev > 0 ? { username, rev } : null;
  }

  async disconnect(nodeId: string, username: string): Promise<PresenceTransition | null> {
    const [rev, display] = (await this.disconnectScript(this.presenceKeys(nodeId), [nameKey(username), username])) as [
      number,
      string,
    ];
    return rev > 0 ? { username: display, rev } : null;
  }

  async isOnline(username: string): Promise<boolean> {
    return (await this.redis.hexists(this.keys.presence, nameKey(username))) === 1;
  }

  async heartbeat(nodeId: string, now: number): Promise<boolean> {
    const added = await this.redis.zadd(this.keys.nodes, now, nodeId);
    return Number(added) === 0;
  }

  async deadNodes(now: number, ttlMs: number): Promise<string[]> {
    return this.redis.zrangebyscore(this.keys.nodes, "-inf", `(${now - ttlMs}`);
  }

  async sweepNode(nodeId: string): Promise<PresenceTransition[]> {
    const flat = (await this.sweepScript([...this.presenceKeys(nodeId), this.keys.nodes], [nodeId])) as Array<
      string | number
    >;
    const offline: PresenceTransition[] = [];
    for (let i = 0; i < flat.length; i += 2) offline.push({ username: String(flat[i]), rev: Number(flat[i + 1]) });
    return offline;
  }

  async leaveLobby(username: string, rev: number): Promise<number> {
    const k = this.keys;
    return Number(await this.leaveLobbyScript([k.presence, k.presenceOnlineRev, k.presenceByName, k.presenceNames, k.lobbyRev], [nameKey(username), rev]));
  }

  async deferOffline(transition: PresenceTransition, dueAt: number): Promise<void> {
    await this.redis.zadd(this.keys.pendingOffline, dueAt, `${transition.rev}:${transition.username}`);
  }

  async takeDueOffline(now: number): Promise<PresenceTransition[]> {
    const due = (await this.takeDueScript([this.keys.pendingOffline], [now, 500])) as string[];
    return due.map((entry) => {
      const separator = entry.indexOf(":");
      return { rev: Number(entry.slice(0, separator)), username: entry.slice(separator + 1) };
    });
  }
}
