import type { Redis } from "ioredis";
import type { RoomKey, RoomMessage, RoomSummary } from "@sala/protocol";
import {
  nameKey,
  oldestKept,
  type AcceptResult,
  type Announcer,
  type HistoryCap,
  type HistoryQuery,
  type IncomingMessage,
  type MembershipChange,
  type RoomRecord,
  type RoomStore,
} from "../types.js";
import type { RedisKeys } from "./keys.js";
import { ACCEPT_MESSAGE_LUA, acceptArgs, acceptResult, HistoryReader, keysFromHash } from "./history-stream.js";
import { defineScript, type Script } from "./script.js";

// KEYS: roomNames, roomIndex, meta, keys, lobbyRev.
// ARGV: nameKey, id, name, owner, passwordHash ('' = public), createdAt, keyId, key.
const CREATE = `
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('HSET', KEYS[3], 'id', ARGV[2], 'name', ARGV[3], 'nameKey', ARGV[1], 'owner', ARGV[4],
  'passwordHash', ARGV[5], 'createdAt', ARGV[6], 'keyId', ARGV[7], 'seq', 0)
redis.call('HSET', KEYS[4], ARGV[7], ARGV[8])
redis.call('ZADD', KEYS[2], ARGV[6], ARGV[2])
return redis.call('INCR', KEYS[5])`;

// KEYS: roomNames, roomIndex, meta, keys, members, lobbyRev, history. ARGV: id, user key prefix.
// Builds each member's rooms-set key inside the script: fine on one Redis; on Redis Cluster this
// step would move to the caller (see docs/ARCHITECTURE.md).
const DELETE = `
local nameKey = redis.call('HGET', KEYS[3], 'nameKey')
if not nameKey then return false end
if redis.call('HGET', KEYS[1], nameKey) == ARGV[1] then redis.call('HDEL', KEYS[1], nameKey) end
local members = redis.call('HGETALL', KEYS[5])
local out = {0}
for i = 1, #members, 2 do
  redis.call('SREM', ARGV[2] .. members[i] .. ':rooms', ARGV[1])
  out[#out + 1] = members[i + 1]
end
redis.call('DEL', KEYS[3], KEYS[4], KEYS[5], KEYS[7])
redis.call('ZREM', KEYS[2], ARGV[1])
out[1] = redis.call('INCR', KEYS[6])
return out`;

// KEYS: meta, members, userRooms, lobbyRev. ARGV: id, nameKey, display name.
// → {changed, count, rev, stored display name}
const ADD_MEMBER = `
if redis.call('EXISTS', KEYS[1]) == 0 then return {0, 0, 0, ARGV[3]} end
local added = redis.call('HSETNX', KEYS[2], ARGV[2], ARGV[3])
local count = redis.call('HLEN', KEYS[2])
if added == 0 then return {0, count, 0, redis.call('HGET', KEYS[2], ARGV[2])} end
redis.call('SADD', KEYS[3], ARGV[1])
return {1, count, redis.call('INCR', KEYS[4]), ARGV[3]}`;

// Same keys and ARGV.
const REMOVE_MEMBER = `
redis.call('SREM', KEYS[3], ARGV[1])
local stored = redis.call('HGET', KEYS[2], ARGV[2])
if not stored then return {0, redis.call('HLEN', KEYS[2]), 0, ARGV[3]} end
redis.call('HDEL', KEYS[2], ARGV[2])
return {1, redis.call('HLEN', KEYS[2]), redis.call('INCR', KEYS[4]), stored}`;

// KEYS: meta, keys. → {keyId, key} or nil
const CURRENT_KEY = `
local id = redis.call('HGET', KEYS[1], 'keyId')
if not id then return false end
return {tonumber(id), redis.call('HGET', KEYS[2], id)}`;

// KEYS: meta, keys. ARGV: key. → new key id, or 0 when the room is gone
const ROTATE_KEY = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local id = redis.call('HINCRBY', KEYS[1], 'keyId', 1)
redis.call('HSET', KEYS[2], id, ARGV[1])
return id`;

// KEYS: meta, history, message-id key, announcement channel ('' = none). ARGV: see acceptArgs
// (history-stream.ts), then the announcement's head and tail. A new message is published as
// head .. seq .. tail in the same step (see realtime/room-announcer.ts).
const ACCEPT_MESSAGE = `${ACCEPT_MESSAGE_LUA}
local result = acceptMessage(KEYS[1], KEYS[2], KEYS[3], ARGV)
if result and result[1] == 1 and KEYS[4] ~= '' then
  redis.call('SPUBLISH', KEYS[4], ARGV[9] .. string.format('%d', result[2]) .. ARGV[10])
end
return result`;

const SUMMARY_FIELDS = ["id", "name", "owner", "passwordHash", "createdAt"] as const;

export class RedisRoomStore implements RoomStore {
  private readonly createScript: Script;
  private readonly deleteScript: Script;
  private readonly addMemberScript: Script;
  private readonly removeMemberScript: Script;
  private readonly currentKeyScript: Script;
  private readonly rotateKeyScript: Script;
  private readonly acceptMessageScript: Script;
  private readonly reader: HistoryReader;

  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    /** What to publish with each accepted message, so that every node delivers it (none: the caller does). */
    private readonly announce: Announcer | null,
    /** How long a sender's message id is remembered, so that a retry is answered, not posted again. */
    private readonly messageIdWindowSec: number,
  ) {
    this.createScript = defineScript(redis, "salaRoomCreate", 5, CREATE);
    this.deleteScript = defineScript(redis, "salaRoomDelete", 7, DELETE);
    this.addMemberScript = defineScript(redis, "salaRoomAddMember", 4, ADD_MEMBER);
    this.removeMemberScript = defineScript(redis, "salaRoomRemoveMember", 4, REMOVE_MEMBER);
    this.currentKeyScript = defineScript(redis, "salaRoomCurrentKey", 2, CURRENT_KEY);
    this.rotateKeyScript = defineScript(redis, "salaRoomRotateKey", 2, ROTATE_KEY);
    this.acceptMessageScript = defineScript(redis, "salaRoomAcceptMessage", 4, ACCEPT_MESSAGE);
    this.reader = new HistoryReader(redis);
  }

  async create(room: RoomRecord, firstKey: RoomKey): Promise<{ created: boolean; rev: number }> {
    const k = this.keys;
    const rev = Number(
      await this.createScript(
        [k.roomNames, k.roomIndex, k.roomMeta(room.id), k.roomKeys(room.id), k.lobbyRev],
        [nameKey(room.name), room.id, room.name, room.owner, room.passwordHash ?? "", room.createdAt, firstKey.id, firstKey.key],
      ),
    );
    return { created: rev > 0, rev };
  }

  async get(roomId: string): Promise<RoomRecord | null> {
    const [id, name, owner, passwordHash, createdAt] = await this.redis.hmget(this.keys.roomMeta(roomId), ...SUMMARY_FIELDS);
    if (!id || !name || !owner) return null;
    return { id, name, owner, passwordHash: passwordHash || null, createdAt: Number(createdAt) };
  }

  async summary(roomId: string): Promise<RoomSummary | null> {
    return (await this.summaries([roomId]))[0] ?? null;
  }

  /** Summaries of the given rooms in one round trip; rooms deleted meanwhile are left out. */
  async summaries(roomIds: string[]): Promise<RoomSummary[]> {
    if (roomIds.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const id of roomIds) {
      pipeline.hmget(this.keys.roomMeta(id), ...SUMMARY_FIELDS);
      pipeline.hlen(this.keys.roomMembers(id));
    }
    const results = (await pipeline.exec()) ?? [];
    const rooms: RoomSummary[] = [];
    for (let i = 0; i < results.length; i += 2) {
      const [metaError, meta] = results[i] ?? [];
      const [countError, count] = results[i + 1] ?? [];
      if (metaError || countError) throw metaError ?? countError;
      const [id, name, owner, passwordHash, createdAt] = meta as Array<string | null>;
      if (!id || !name || !owner) continue;
      rooms.push({ id, name, owner, isPrivate: Boolean(passwordHash), memberCount: Number(count), createdAt: Number(createdAt) });
    }
    return rooms;
  }

  async delete(roomId: string): Promise<{ members: string[]; rev: number } | null> {
    const k = this.keys;
    const result = (await this.deleteScript(
      [k.roomNames, k.roomIndex, k.roomMeta(roomId), k.roomKeys(roomId), k.roomMembers(roomId), k.lobbyRev, k.roomHistory(roomId)],
      [roomId, k.userPrefix],
    )) as [number, ...string[]] | null;
    if (!result) return null;
    const [rev, ...members] = result;
    return { members, rev };
  }

  private async membership(script: Script, roomId: string, username: string): Promise<MembershipChange> {
    const key = nameKey(username);
    const k = this.keys;
    const [changed, memberCount, rev, stored] = (await script(
      [k.roomMeta(roomId), k.roomMembers(roomId), k.userRooms(key), k.lobbyRev],
      [roomId, key, username],
    )) as [number, number, number, string];
    return { changed: changed === 1, memberCount, rev, username: stored };
  }

  addMember(roomId: string, username: string): Promise<MembershipChange> {
    return this.membership(this.addMemberScript, roomId, username);
  }

  removeMember(roomId: string, username: string): Promise<MembershipChange> {
    return this.membership(this.removeMemberScript, roomId, username);
  }

  members(roomId: string): Promise<string[]> {
    return this.redis.hvals(this.keys.roomMembers(roomId));
  }

  async isMember(roomId: string, username: string): Promise<boolean> {
    return (await this.redis.hexists(this.keys.roomMembers(roomId), nameKey(username))) === 1;
  }

  roomsOf(username: string): Promise<string[]> {
    return this.redis.smembers(this.keys.userRooms(nameKey(username)));
  }

  async currentKey(roomId: string): Promise<RoomKey | null> {
    const result = (await this.currentKeyScript([this.keys.roomMeta(roomId), this.keys.roomKeys(roomId)], [])) as
      | [number, string]
      | null;
    return result ? { id: result[0], key: result[1] } : null;
  }

  async rotateKey(roomId: string, key: string): Promise<RoomKey> {
    const id = Number(await this.rotateKeyScript([this.keys.roomMeta(roomId), this.keys.roomKeys(roomId)], [key]));
    if (id === 0) throw new Error(`rotateKey: no room ${roomId}`);
    return { id, key };
  }

  async acceptMessage(message: IncomingMessage, cap: HistoryCap): Promise<AcceptResult | null> {
    const { roomId, from, clientId } = message;
    const k = this.keys;
    const announcement = this.announce?.(message);
    const result = await this.acceptMessageScript(
      // Scoped by sender: another member reusing an id is not mistaken for a repeat.
      [k.roomMeta(roomId), k.roomHistory(roomId), k.roomMessageId(roomId, `${nameKey(from)}:${clientId ?? "-"}`), announcement?.channel ?? ""],
      [...acceptArgs(message, cap.maxMessages, oldestKept(cap, message.ts), this.messageIdWindowSec), announcement?.head ?? "", announcement?.tail ?? ""],
    );
    return acceptResult(result, message.ts, announcement !== undefined);
  }

  async history(roomId: string, query: HistoryQuery): Promise<RoomMessage[]> {
    return (await this.reader.read(this.keys.roomHistory(roomId), query)).map((entry) => ({ roomId, ...entry }));
  }

  async clearHistory(roomId: string): Promise<void> {
    await this.redis.del(this.keys.roomHistory(roomId));
  }

  async setRetention(roomId: string, maxMessages: number): Promise<void> {
    await this.redis
      .multi()
      .hset(this.keys.roomMeta(roomId), "retention", maxMessages)
      .xtrim(this.keys.roomHistory(roomId), "MAXLEN", maxMessages)
      .exec();
  }

  keysById(roomId: string, ids: number[]): Promise<RoomKey[]> {
    return keysFromHash(this.redis, this.keys.roomKeys(roomId), ids);
  }
}
