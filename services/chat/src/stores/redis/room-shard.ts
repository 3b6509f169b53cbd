/**
 * A room's own keys, all under its hash tag `{room:<id>}` (one shard of a Redis Cluster): its meta
 * hash, keys, members, bars, history and remembered message ids. Every decision about a room —
 * who may enter, who may post, which key is current, whether it is idle — is taken here, in one
 * script on the room's shard; what the global directory and the users' indexes hold about it is
 * derived, written after (see rooms.ts), and rebuilt by the repair (repair.ts).
 */
import type { RoomKey } from "@sala/protocol";
import type { RedisClient } from "../../redis.js";
import { nameKey, type MessageChange, type MessageChangeResult, type RoomRecord } from "../types.js";
import type { RedisKeys } from "./keys.js";
import { ACCEPT_MESSAGE_LUA } from "./history-stream.js";
import { MessageEditScripts, TRIM_EDITS_LUA } from "./message-edits.js";
import { defineScript, type Script } from "./script.js";

// KEYS: meta, keys. ARGV: id, name, nameKey, owner, passwordHash ('' = public), createdAt, keyId,
// key, confusable key. A new room is empty: idle from its creation. → 1, or 0 if the id exists.
const WRITE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'name', ARGV[2], 'nameKey', ARGV[3], 'owner', ARGV[4],
  'passwordHash', ARGV[5], 'createdAt', ARGV[6], 'keyId', ARGV[7], 'seq', 0, 'skeleton', ARGV[9],
  'emptySince', ARGV[6])
redis.call('HSET', KEYS[2], ARGV[7], ARGV[8])
return 1`;

// Every membership script answers {changed, count, stored display name}; `changed` is -1 when
// ADMIT refused a barred user and -2 when it refused for want of the room's password.

// KEYS: meta, members, barred. ARGV: nameKey, display name, the password hash the caller verified
// ('' = none).
const ADMIT = `
local passwordHash = redis.call('HGET', KEYS[1], 'passwordHash')
if not passwordHash then return {0, 0, ARGV[2]} end
local stored = redis.call('HGET', KEYS[2], ARGV[1])
if stored then return {0, redis.call('HLEN', KEYS[2]), stored} end
if redis.call('HEXISTS', KEYS[3], ARGV[1]) == 1 then return {-1, 0, ARGV[2]} end
if passwordHash ~= '' and passwordHash ~= ARGV[3] then return {-2, 0, ARGV[2]} end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('HDEL', KEYS[1], 'emptySince')
return {1, redis.call('HLEN', KEYS[2]), ARGV[2]}`;

// KEYS: meta, members, barred. ARGV: nameKey, display name, now (ms), '1' to bar the user as well
// (a kick), the most users a room may bar (then {-3}: nothing changed). A room left empty is idle
// from now. false: a kick in a room that does not exist.
const REMOVE = `
if ARGV[4] == '1' then
  if redis.call('EXISTS', KEYS[1]) == 0 then return false end
  if redis.call('HEXISTS', KEYS[3], ARGV[1]) == 0 and redis.call('HLEN', KEYS[3]) >= tonumber(ARGV[5]) then
    return {-3, 0, ARGV[2]}
  end
  redis.call('HSET', KEYS[3], ARGV[1], redis.call('HGET', KEYS[2], ARGV[1]) or ARGV[2])
end
local stored = redis.call('HGET', KEYS[2], ARGV[1])
if not stored then return {0, redis.call('HLEN', KEYS[2]), ARGV[2]} end
redis.call('HDEL', KEYS[2], ARGV[1])
local count = redis.call('HLEN', KEYS[2])
if count == 0 and redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'emptySince', ARGV[3]) end
return {1, count, stored}`;

// KEYS: meta, keys, members, history, barred, message ids, their expiry, edits. ARGV: idleBefore ('' =
// delete whatever its state), now.
// → {'gone'} | {'busy'} (has members) | {'young', emptySince} | {'deleted', nameKey, skeleton,
// owner, member key, member display name, ...}. A room without an emptySince (made before it was
// kept here) is idle from now.
const DELETE = `
local meta = redis.call('HMGET', KEYS[1], 'nameKey', 'owner', 'skeleton', 'emptySince')
if not meta[1] then return {'gone'} end
if ARGV[1] ~= '' then
  if redis.call('HLEN', KEYS[3]) > 0 then return {'busy'} end
  if not meta[4] then
    redis.call('HSET', KEYS[1], 'emptySince', ARGV[2])
    return {'young', ARGV[2]}
  end
  if tonumber(meta[4]) >= tonumber(ARGV[1]) then return {'young', meta[4]} end
end
local out = {'deleted', meta[1], meta[3] or '', meta[2]}
local members = redis.call('HGETALL', KEYS[3])
for i = 1, #members do out[#out + 1] = members[i] end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8])
return out`;

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

// KEYS: meta, history, message ids, their expiry, members, announcement channel (with no
// announcement: any key of the room, as every key of a script must share its slot), edits. ARGV:
// see acceptArgs (history-stream.ts), the announcement's head ('' = none) and tail, the sender's
// name key. Only a member may post ({3}: not a member), checked in the same step as the numbering,
// so a message sent a moment after a kick is refused. A new message is published as head .. seq
// .. tail in the same step (see realtime/room-announcer.ts); the channel shares the room's hash
// tag, so on a Redis Cluster it lives on the room's shard. A room with edited or deleted messages
// has them trimmed with the history (message-edits.ts); a room without pays one EXISTS.
export const ACCEPT_MESSAGE = `${ACCEPT_MESSAGE_LUA}
${TRIM_EDITS_LUA}
if redis.call('HEXISTS', KEYS[5], ARGV[12]) == 0 then
  if redis.call('EXISTS', KEYS[1]) == 0 then return false end
  return {3}
end
local result = acceptMessage(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV)
if result and result[1] == 1 then
  if redis.call('EXISTS', KEYS[7]) == 1 then trimEdits(KEYS[1], KEYS[2], KEYS[7], result[2], tonumber(ARGV[5]), tonumber(ARGV[7])) end
  if ARGV[10] ~= '' then redis.call('SPUBLISH', KEYS[6], ARGV[10] .. string.format('%d', result[2]) .. ARGV[11]) end
end
return result`;

/** What a membership script answers: changed (1, 0, or a refusal below 0), count, stored name. */
export type ShardMembership = [changed: number, count: number, stored: string];

export type ShardDeletion =
  | { state: "gone" }
  | { state: "busy" }
  | { state: "young"; emptySince: number }
  | { state: "deleted"; nameKey: string; skeleton: string; owner: string; members: Array<{ key: string; name: string }> };

export class RoomShard {
  private readonly writeScript: Script;
  private readonly admitScript: Script;
  private readonly removeScript: Script;
  private readonly deleteScript: Script;
  private readonly currentKeyScript: Script;
  private readonly rotateKeyScript: Script;
  private readonly changeMessageScript: Script;
  private readonly retainScript: Script;
  readonly acceptScript: Script;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
  ) {
    this.writeScript = defineScript(redis, "salaRoomWrite", 2, WRITE);
    this.admitScript = defineScript(redis, "salaRoomAdmit", 3, ADMIT);
    this.removeScript = defineScript(redis, "salaRoomRemove", 3, REMOVE);
    this.deleteScript = defineScript(redis, "salaRoomDelete", 8, DELETE);
    this.currentKeyScript = defineScript(redis, "salaRoomCurrentKey", 2, CURRENT_KEY);
    this.rotateKeyScript = defineScript(redis, "salaRoomRotateKey", 2, ROTATE_KEY);
    this.acceptScript = defineScript(redis, "salaRoomAcceptMessage", 7, ACCEPT_MESSAGE);
    this.changeMessageScript = defineScript(redis, "salaRoomChangeMessage", 4, MessageEditScripts.CHANGE_MESSAGE);
    this.retainScript = defineScript(redis, "salaRoomRetain", 3, MessageEditScripts.RETAIN);
  }

  /** Every key of the room, for deleting it whole. */
  allKeys(id: string): string[] {
    const k = this.keys;
    return [k.roomMeta(id), k.roomKeys(id), k.roomMembers(id), k.roomHistory(id), k.roomBarred(id), k.roomMessageIds(id), k.roomMessageIdExpiry(id), k.roomEdits(id)];
  }

  /** Writes a new room's meta and first key; false when a room has this id already. */
  async write(room: RoomRecord & { nameKey: string; skeleton: string }, firstKey: RoomKey): Promise<boolean> {
    const args = [room.id, room.name, room.nameKey, room.owner, room.passwordHash ?? "", room.createdAt, firstKey.id, firstKey.key, room.skeleton];
    return Number(await this.writeScript([this.keys.roomMeta(room.id), this.keys.roomKeys(room.id)], args)) === 1;
  }

  /** Deletes every key of the room (undoing a refused creation, or an orphan's remains). */
  async drop(id: string): Promise<void> {
    await this.redis.del(...this.allKeys(id));
  }

  private membershipKeys(id: string): string[] {
    return [this.keys.roomMeta(id), this.keys.roomMembers(id), this.keys.roomBarred(id)];
  }

  async admit(id: string, nameKey: string, display: string, verifiedHash: string | null): Promise<ShardMembership> {
    return (await this.admitScript(this.membershipKeys(id), [nameKey, display, verifiedHash ?? ""])) as ShardMembership;
  }

  /** Removes (and with `maxBarred`, bars) the user; null: a kick in a room that does not exist. */
  async remove(id: string, nameKey: string, display: string, now: number, maxBarred?: number): Promise<ShardMembership | null> {
    const args = [nameKey, display, now, maxBarred === undefined ? "0" : "1", maxBarred ?? 0];
    return (await this.removeScript(this.membershipKeys(id), args)) as ShardMembership | null;
  }

  async delete(id: string, idleBefore: number | undefined, now: number): Promise<ShardDeletion> {
    const answer = (await this.deleteScript(this.allKeys(id), [idleBefore ?? "", now])) as string[];
    const [state, ...rest] = answer;
    if (state === "young") return { state, emptySince: Number(rest[0]) };
    if (state !== "deleted") return { state: state === "busy" ? "busy" : "gone" };
    const [nameKey = "", skeleton = "", owner = "", ...flat] = rest;
    const members: Array<{ key: string; name: string }> = [];
    for (let i = 0; i + 1 < flat.length; i += 2) members.push({ key: flat[i]!, name: flat[i + 1]! });
    return { state, nameKey, skeleton, owner, members };
  }

  async currentKey(id: string): Promise<RoomKey | null> {
    const result = (await this.currentKeyScript([this.keys.roomMeta(id), this.keys.roomKeys(id)], [])) as [number, string] | null;
    return result ? { id: result[0], key: result[1] } : null;
  }

  /**
   * The author's edit or delete of a message (stores/types RoomStore.changeMessage); `cutoff`: the
   * age cap's oldest ts (0: none). `run`: how the script runs (with a WAIT for REDIS_WAIT_REPLICAS).
   */
  async changeMessage(change: MessageChange, cutoff: number, run: Script = this.changeMessageScript): Promise<MessageChangeResult> {
    const k = this.keys;
    const { roomId, seq, by, at, edit } = change;
    const answer = (await run(
      [k.roomMeta(roomId), k.roomHistory(roomId), k.roomEdits(roomId), k.roomMembers(roomId)],
      [seq, nameKey(by), at, cutoff, edit ? edit.keyId : "", edit ? edit.msg : ""],
    )) as [number, number?];
    switch (answer[0]) {
      case 0:
        return { refused: "room" };
      case 1:
        return { refused: "not_member" };
      case 2:
        return { refused: "not_found" };
      case 3:
        return { refused: "forbidden" };
      case 4:
        return { staleKey: Number(answer[1]) };
      default:
        return { changed: true, editedAt: Number(answer[1]) };
    }
  }

  /** The room keeps its latest `maxMessages` messages, edited and deleted ones included. */
  async retain(id: string, maxMessages: number): Promise<void> {
    await this.retainScript([this.keys.roomMeta(id), this.keys.roomHistory(id), this.keys.roomEdits(id)], [maxMessages]);
  }

  /** The new key's id, or 0 when the room is gone. */
  async rotateKey(id: string, key: string): Promise<number> {
    return Number(await this.rotateKeyScript([this.keys.roomMeta(id), this.keys.roomKeys(id)], [key]));
  }
}
