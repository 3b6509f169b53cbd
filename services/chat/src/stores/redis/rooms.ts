import type { Redis } from "ioredis";
import type { RoomKey, RoomMessage, RoomSummary } from "@sala/protocol";
import {
  MAX_BARRED_PER_ROOM,
  nameKey,
  oldestKept,
  type Announcer,
  type HistoryCap,
  type HistoryQuery,
  type Admission,
  type Barring,
  type IncomingMessage,
  type MembershipChange,
  type RoomAcceptResult,
  type RoomCreation,
  type RoomRecord,
  type RoomStore,
} from "../types.js";
import { confusableKey, NameConfusableError } from "../../domain/confusables.js";
import type { RedisKeys } from "./keys.js";
import { ACCEPT_MESSAGE_LUA, acceptArgs, acceptResult, HistoryReader, keysFromHash } from "./history-stream.js";
import { defineScript, type Script } from "./script.js";

// KEYS: roomNames, roomIndex, meta, keys, lobbyRev, emptyRooms, owner's owned rooms, roomSkeletons.
// ARGV: nameKey, id, name, owner, passwordHash ('' = public), createdAt, keyId, key, maxOwned (0: no
// limit), confusable key (domain/confusables.ts).
// → the lobby revision, -1 (name taken), -2 (quota) or -3 (looks like another room's name).
const CREATE = `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return -1 end
local lookalike = redis.call('HGET', KEYS[8], ARGV[10])
if lookalike and lookalike ~= ARGV[2] then return -3 end
local maxOwned = tonumber(ARGV[9])
if maxOwned > 0 and redis.call('SCARD', KEYS[7]) >= maxOwned then return -2 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[3], 'id', ARGV[2], 'name', ARGV[3], 'nameKey', ARGV[1], 'owner', ARGV[4],
  'passwordHash', ARGV[5], 'createdAt', ARGV[6], 'keyId', ARGV[7], 'seq', 0, 'skeleton', ARGV[10])
redis.call('HSET', KEYS[8], ARGV[10], ARGV[2])
redis.call('HSET', KEYS[4], ARGV[7], ARGV[8])
redis.call('ZADD', KEYS[2], ARGV[6], ARGV[2])
redis.call('ZADD', KEYS[6], ARGV[6], ARGV[2])
redis.call('SADD', KEYS[7], ARGV[2])
return redis.call('INCR', KEYS[5])`;

// KEYS: roomNames, roomIndex, meta, keys, members, lobbyRev, history, barred, message ids, their
// expiry, emptyRooms, roomSkeletons. ARGV: id, user key prefix, idleBefore ('' = delete whatever its state).
// Builds each member's rooms-set key and the owner's owned-rooms key inside the script: fine on
// one Redis; on Redis Cluster this step would move to the caller (see docs/ARCHITECTURE.md).
const DELETE = `
local meta = redis.call('HMGET', KEYS[3], 'nameKey', 'owner', 'skeleton')
local nameKey = meta[1]
-- No room (deleted by a node that predates the idle index): forget it there too.
if not nameKey then
  redis.call('ZREM', KEYS[11], ARGV[1])
  return false
end
if ARGV[3] ~= '' then
  -- A room with members is not idle, whatever the index says (a mark written by index-names
  -- as someone joined): the mark goes, so it cannot hold the sweep's oldest places.
  if redis.call('HLEN', KEYS[5]) > 0 then
    redis.call('ZREM', KEYS[11], ARGV[1])
    return false
  end
  local since = redis.call('ZSCORE', KEYS[11], ARGV[1])
  if not since or tonumber(since) >= tonumber(ARGV[3]) then return false end
end
if redis.call('HGET', KEYS[1], nameKey) == ARGV[1] then redis.call('HDEL', KEYS[1], nameKey) end
if meta[3] and redis.call('HGET', KEYS[12], meta[3]) == ARGV[1] then redis.call('HDEL', KEYS[12], meta[3]) end
local members = redis.call('HGETALL', KEYS[5])
local out = {0}
for i = 1, #members, 2 do
  redis.call('SREM', ARGV[2] .. members[i] .. ':rooms', ARGV[1])
  out[#out + 1] = members[i + 1]
end
-- Usernames are ASCII (USERNAME_PATTERN): string.lower is their name key.
redis.call('SREM', ARGV[2] .. string.lower(meta[2]) .. ':owned', ARGV[1])
redis.call('DEL', KEYS[3], KEYS[4], KEYS[5], KEYS[7], KEYS[8], KEYS[9], KEYS[10])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[11], ARGV[1])
out[1] = redis.call('INCR', KEYS[6])
return out`;

// Every membership script answers {changed, count, rev, stored display name}; `changed` is -1
// when ADMIT refused a barred user and -2 when it refused for want of the room's password.

// KEYS: meta, members, userRooms, lobbyRev, barred, emptyRooms. ARGV: id, nameKey, display name,
// the password hash the caller verified ('' = none).
const ADMIT = `
local passwordHash = redis.call('HGET', KEYS[1], 'passwordHash')
if not passwordHash then return {0, 0, 0, ARGV[3]} end
local stored = redis.call('HGET', KEYS[2], ARGV[2])
if stored then return {0, redis.call('HLEN', KEYS[2]), 0, stored} end
if redis.call('HEXISTS', KEYS[5], ARGV[2]) == 1 then return {-1, 0, 0, ARGV[3]} end
if passwordHash ~= '' and passwordHash ~= ARGV[4] then return {-2, 0, 0, ARGV[3]} end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
redis.call('SADD', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[6], ARGV[1])
return {1, redis.call('HLEN', KEYS[2]), redis.call('INCR', KEYS[4]), ARGV[3]}`;

// KEYS: meta, members, userRooms, lobbyRev, barred, emptyRooms. ARGV: id, nameKey, display name,
// now (ms), '1' to bar the user as well (a kick), the most users a room may bar (then {-3}:
// nothing changed). A room left empty is idle from now.
const REMOVE_MEMBER = `
if ARGV[5] == '1' then
  if redis.call('EXISTS', KEYS[1]) == 0 then return false end
  if redis.call('HEXISTS', KEYS[5], ARGV[2]) == 0 and redis.call('HLEN', KEYS[5]) >= tonumber(ARGV[6]) then
    return {-3, 0, 0, ARGV[3]}
  end
  redis.call('HSET', KEYS[5], ARGV[2], redis.call('HGET', KEYS[2], ARGV[2]) or ARGV[3])
end
redis.call('SREM', KEYS[3], ARGV[1])
local stored = redis.call('HGET', KEYS[2], ARGV[2])
if not stored then return {0, redis.call('HLEN', KEYS[2]), 0, ARGV[3]} end
redis.call('HDEL', KEYS[2], ARGV[2])
local count = redis.call('HLEN', KEYS[2])
if count == 0 and redis.call('EXISTS', KEYS[1]) == 1 then redis.call('ZADD', KEYS[6], ARGV[4], ARGV[1]) end
return {1, count, redis.call('INCR', KEYS[4]), stored}`;

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

// KEYS: meta, history, message ids, their expiry, members, announcement channel ('' = none).
// ARGV: see acceptArgs (history-stream.ts), the announcement's head and tail, the sender's name
// key. Only a member
// may post ({3}: not a member), checked in the same step as the numbering, so a message sent a
// moment after a kick is refused. A new message is published as head .. seq .. tail in the same
// step (see realtime/room-announcer.ts).
const ACCEPT_MESSAGE = `${ACCEPT_MESSAGE_LUA}
if redis.call('HEXISTS', KEYS[5], ARGV[12]) == 0 then
  if redis.call('EXISTS', KEYS[1]) == 0 then return false end
  return {3}
end
local result = acceptMessage(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV)
if result and result[1] == 1 and KEYS[6] ~= '' then
  redis.call('SPUBLISH', KEYS[6], ARGV[10] .. string.format('%d', result[2]) .. ARGV[11])
end
return result`;

const SUMMARY_FIELDS = ["id", "name", "owner", "passwordHash", "createdAt"] as const;

export class RedisRoomStore implements RoomStore {
  private readonly createScript: Script;
  private readonly deleteScript: Script;
  private readonly admitScript: Script;
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
    this.createScript = defineScript(redis, "salaRoomCreate", 8, CREATE);
    this.deleteScript = defineScript(redis, "salaRoomDelete", 12, DELETE);
    this.admitScript = defineScript(redis, "salaRoomAdmit", 6, ADMIT);
    this.removeMemberScript = defineScript(redis, "salaRoomRemoveMember", 6, REMOVE_MEMBER);
    this.currentKeyScript = defineScript(redis, "salaRoomCurrentKey", 2, CURRENT_KEY);
    this.rotateKeyScript = defineScript(redis, "salaRoomRotateKey", 2, ROTATE_KEY);
    this.acceptMessageScript = defineScript(redis, "salaRoomAcceptMessage", 6, ACCEPT_MESSAGE);
    this.reader = new HistoryReader(redis);
  }

  async create(room: RoomRecord, firstKey: RoomKey, maxOwned: number): Promise<RoomCreation> {
    const k = this.keys;
    const rev = Number(
      await this.createScript(
        [k.roomNames, k.roomIndex, k.roomMeta(room.id), k.roomKeys(room.id), k.lobbyRev, k.emptyRooms, k.userOwnedRooms(nameKey(room.owner)), k.roomSkeletons],
        [nameKey(room.name), room.id, room.name, room.owner, room.passwordHash ?? "", room.createdAt, firstKey.id, firstKey.key, maxOwned, confusableKey(room.name)],
      ),
    );
    if (rev === -3) throw new NameConfusableError("room", await this.lookalikeName(room.name));
    if (rev === -2) return { created: false, reason: "quota" };
    return rev > 0 ? { created: true, rev } : { created: false, reason: "name_taken" };
  }

  /** The name of the room whose name `name` looks like (for the error message only). */
  private async lookalikeName(name: string): Promise<string> {
    const id = await this.redis.hget(this.keys.roomSkeletons, confusableKey(name));
    return (id && (await this.redis.hget(this.keys.roomMeta(id), "name"))) || "another room";
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

  async delete(roomId: string, idleBefore?: number): Promise<{ members: string[]; rev: number } | null> {
    const k = this.keys;
    const result = (await this.deleteScript(
      [
        k.roomNames,
        k.roomIndex,
        k.roomMeta(roomId),
        k.roomKeys(roomId),
        k.roomMembers(roomId),
        k.lobbyRev,
        k.roomHistory(roomId),
        k.roomBarred(roomId),
        k.roomMessageIds(roomId),
        k.roomMessageIdExpiry(roomId),
        k.emptyRooms,
        k.roomSkeletons,
      ],
      [roomId, k.userPrefix, idleBefore ?? ""],
    )) as [number, ...string[]] | null;
    if (!result) return null;
    const [rev, ...members] = result;
    return { members, rev };
  }

  private membershipKeys(roomId: string, username: string): string[] {
    const k = this.keys;
    return [k.roomMeta(roomId), k.roomMembers(roomId), k.userRooms(nameKey(username)), k.lobbyRev, k.roomBarred(roomId), k.emptyRooms];
  }

  async admit(roomId: string, username: string, verifiedHash: string | null): Promise<Admission> {
    const answer = (await this.admitScript(this.membershipKeys(roomId, username), [roomId, nameKey(username), username, verifiedHash ?? ""])) as Membership;
    if (answer[0] === -1) return { refused: "barred" };
    if (answer[0] === -2) return { refused: "password" };
    return membershipChange(answer);
  }

  async removeMember(roomId: string, username: string, now: number): Promise<MembershipChange> {
    return membershipChange((await this.removeMemberScript(this.membershipKeys(roomId, username), [roomId, nameKey(username), username, now, "0", 0])) as Membership);
  }

  async bar(roomId: string, username: string, now: number): Promise<Barring> {
    const answer = (await this.removeMemberScript(this.membershipKeys(roomId, username), [roomId, nameKey(username), username, now, "1", MAX_BARRED_PER_ROOM])) as
      | Membership
      | null;
    if (!answer) return null;
    return answer[0] === -3 ? { refused: "full" } : membershipChange(answer);
  }

  async unbar(roomId: string, username: string): Promise<boolean> {
    return (await this.redis.hdel(this.keys.roomBarred(roomId), nameKey(username))) === 1;
  }

  barred(roomId: string): Promise<string[]> {
    return this.redis.hvals(this.keys.roomBarred(roomId));
  }

  idleRooms(before: number, limit: number): Promise<string[]> {
    return this.redis.zrangebyscore(this.keys.emptyRooms, "-inf", `(${before}`, "LIMIT", 0, limit);
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

  async acceptMessage(message: IncomingMessage, cap: HistoryCap): Promise<RoomAcceptResult | null> {
    const { roomId, from } = message;
    const k = this.keys;
    const announcement = this.announce?.(message);
    const result = await this.acceptMessageScript(
      [k.roomMeta(roomId), k.roomHistory(roomId), k.roomMessageIds(roomId), k.roomMessageIdExpiry(roomId), k.roomMembers(roomId), announcement?.channel ?? ""],
      [
        ...acceptArgs(message, cap.maxMessages, oldestKept(cap, message.ts), this.messageIdWindowSec),
        announcement?.head ?? "",
        announcement?.tail ?? "",
        nameKey(from),
      ],
    );
    if (Array.isArray(result) && result[0] === 3) return { notMember: true };
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

/** What the membership scripts answer: changed (1, 0, or a refusal below 0), count, rev, stored name. */
type Membership = [number, number, number, string];

function membershipChange([changed, memberCount, rev, username]: Membership): MembershipChange {
  return { changed: changed === 1, memberCount, rev, username };
}
