/**
 * Rooms in Redis, over three scopes that a Redis Cluster may put on different shards: the room's
 * own keys (room-shard.ts: every decision about the room), the global directory (directory.ts:
 * names, the lobby's index, the idle index, the lobby revision) and each user's index
 * (user-index.ts: rooms joined and owned). An operation that spans them is a sequence of
 * single-slot steps in a fixed order, each idempotent:
 *
 * - create: count it among the owner's rooms (the quota) → write the room's keys → claim its name
 *   in the directory (which lists it); a refused name undoes the first two.
 * - admit / remove / bar: the room's shard decides and changes the members → the user's index and
 *   the directory (empty or not, lobby revision) follow, together.
 * - delete: the room's shard checks (idle?) and deletes its keys → the directory forgets it → the
 *   members' and owner's indexes forget it.
 *
 * A node that dies between steps leaves derived entries behind or missing (a name claimed for a
 * room without keys, a room set that lists a room left); readers tolerate them (a listed room
 * without meta is skipped, a resumed room is confirmed with its shard), and the repair (repair.ts)
 * rebuilds them from the rooms' own keys.
 */
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
  type MessageChange,
  type MessageChangeResult,
  type RoomAcceptResult,
  type RoomCreation,
  type RoomRecord,
  type RoomStore,
} from "../types.js";
import { confusableKey, NameConfusableError } from "../../domain/confusables.js";
import type { RedisKeys } from "./keys.js";
import type { RedisClient } from "../../redis.js";
import { readEach } from "./batch.js";
import { RoomDirectory } from "./directory.js";
import { acceptArgs, acceptResult, HistoryReader, keysFromHash } from "./history-stream.js";
import { MessageEditScripts } from "./message-edits.js";
import { changedMessage, WaitedScript, wroteMessage, type ReplicaWait } from "./replica-wait.js";
import { ACCEPT_MESSAGE, RoomShard, type ShardMembership } from "./room-shard.js";
import { UserRoomIndex } from "./user-index.js";

const SUMMARY_FIELDS = ["id", "name", "owner", "passwordHash", "createdAt"] as const;

export class RedisRoomStore implements RoomStore {
  readonly shard: RoomShard;
  readonly directory: RoomDirectory;
  readonly userIndex: UserRoomIndex;
  private readonly reader: HistoryReader;
  /** With REDIS_WAIT_REPLICAS: the accepting script, run with a WAIT (replica-wait.ts). */
  private readonly waitedAccept: WaitedScript | null;
  /** With REDIS_WAIT_REPLICAS: edits and deletes wait for the replicas too (a failover keeps them). */
  private readonly waitedChange: WaitedScript | null;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    /** What to publish with each accepted message, so that every node delivers it (none: the caller does). */
    private readonly announce: Announcer | null,
    /** How long a sender's message id is remembered, so that a retry is answered, not posted again. */
    private readonly messageIdWindowSec: number,
    /** Replicas that must hold a message before it is acknowledged (REDIS_WAIT_REPLICAS; null: none). */
    replicaWait: ReplicaWait | null = null,
  ) {
    this.shard = new RoomShard(redis, keys);
    this.waitedAccept = replicaWait ? new WaitedScript(redis, ACCEPT_MESSAGE, replicaWait) : null;
    this.waitedChange = replicaWait ? new WaitedScript(redis, MessageEditScripts.CHANGE_MESSAGE, replicaWait) : null;
    this.directory = new RoomDirectory(redis, keys);
    this.userIndex = new UserRoomIndex(redis, keys);
    this.reader = new HistoryReader(redis);
  }

  async create(room: RoomRecord, firstKey: RoomKey, maxOwned: number): Promise<RoomCreation> {
    const owner = nameKey(room.owner);
    const named = { ...room, nameKey: nameKey(room.name), skeleton: confusableKey(room.name) };
    if (!(await this.userIndex.reserveOwned(owner, room.id, maxOwned))) {
      // Rooms deleted by a node that died before its last step still count: forgotten, then asked again.
      if (!(await this.forgetGoneOwned(owner)) || !(await this.userIndex.reserveOwned(owner, room.id, maxOwned))) return { created: false, reason: "quota" };
    }
    let [written, listed] = [false, false];
    try {
      written = await this.shard.write(named, firstKey);
      if (!written) throw new Error(`create: room id ${room.id} is in use`);
      let claim = await this.directory.claim(room.id, named.nameKey, named.skeleton, room.createdAt);
      // The name (or its look-alike) may name a room deleted half-way: freed, and claimed again.
      const holder = "rev" in claim ? null : "taken" in claim ? await this.redis.hget(this.keys.roomNames, named.nameKey) : claim.lookalikeOf;
      if (holder && (await this.releaseIfGone(holder, named.nameKey, named.skeleton))) {
        claim = await this.directory.claim(room.id, named.nameKey, named.skeleton, room.createdAt);
      }
      if ("rev" in claim) {
        listed = true;
        return { created: true, rev: claim.rev };
      }
      if ("taken" in claim) return { created: false, reason: "name_taken" };
      throw new NameConfusableError("room", (await this.redis.hget(this.keys.roomMeta(claim.lookalikeOf), "name")) || "another room");
    } finally {
      // Refused (or failed half-way): undone, so that nothing of the room stays. Should the undo
      // fail too, the answer stays the original one; the repair removes what is left. Another
      // room's keys (an id in use) are never touched.
      if (!listed) {
        await Promise.all([written ? this.shard.drop(room.id) : undefined, this.userIndex.releaseOwned(owner, room.id)]).catch(() => undefined);
      }
    }
  }

  /**
   * Frees the entries under this name and confusable key if they name `id` and its keys are gone
   * (RELEASE removes only entries naming that id; the room's other entries are the repair's);
   * → whether it was gone.
   */
  private async releaseIfGone(id: string, nameKeyOf: string, skeleton: string): Promise<boolean> {
    if ((await this.redis.exists(this.keys.roomMeta(id))) === 1) return false;
    await this.directory.release(id, nameKeyOf, skeleton);
    return true;
  }

  /** Takes rooms that no longer exist out of the owner's quota; → whether any was. */
  private async forgetGoneOwned(owner: string): Promise<boolean> {
    let forgot = false;
    for (const id of await this.redis.smembers(this.keys.userOwnedRooms(owner))) {
      if ((await this.redis.exists(this.keys.roomMeta(id))) === 1) continue;
      await this.userIndex.releaseOwned(owner, id);
      forgot = true;
    }
    return forgot;
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
    const results = await readEach(this.redis, roomIds, (pipeline, id) => pipeline.hmget(this.keys.roomMeta(id), ...SUMMARY_FIELDS).hlen(this.keys.roomMembers(id)));
    const rooms: RoomSummary[] = [];
    for (const [meta, count] of results) {
      const [id, name, owner, passwordHash, createdAt] = meta as Array<string | null>;
      if (!id || !name || !owner) continue;
      rooms.push({ id, name, owner, isPrivate: Boolean(passwordHash), memberCount: Number(count), createdAt: Number(createdAt) });
    }
    return rooms;
  }

  async delete(roomId: string, idleBefore?: number): Promise<{ members: string[]; rev: number } | null> {
    const deletion = await this.shard.delete(roomId, idleBefore, Date.now());
    switch (deletion.state) {
      case "gone": // deleted before, perhaps half-way: the directory forgets it too
        await this.directory.release(roomId, "", "");
        return null;
      case "busy": // the idle index was behind (a join raced the sweep)
        await this.directory.markOccupied(roomId);
        return null;
      case "young":
        await this.directory.markEmpty(roomId, deletion.emptySince);
        return null;
    }
    const rev = await this.directory.release(roomId, deletion.nameKey, deletion.skeleton);
    await Promise.all([
      ...deletion.members.map((member) => this.userIndex.left(member.key, roomId)),
      // Usernames are ASCII (USERNAME_PATTERN): lower case is their name key.
      deletion.owner ? this.userIndex.releaseOwned(nameKey(deletion.owner), roomId) : undefined,
    ]);
    return { members: deletion.members.map((member) => member.name), rev };
  }

  async admit(roomId: string, username: string, verifiedHash: string | null): Promise<Admission> {
    const user = nameKey(username);
    // The user's index first, so that it always lists every room they are in (a superset): it is
    // what takes them out of their rooms when they go offline, and a node dying right after the
    // shard admitted them must not leave a member nobody removes.
    await this.userIndex.joined(user, roomId);
    const answer = await this.shard.admit(roomId, user, username, verifiedHash);
    const member = answer[0] === 1 || (answer[0] === 0 && answer[1] > 0);
    if (!member) await this.forgetUnlessMember(roomId, user);
    if (answer[0] === -1) return { refused: "barred" };
    if (answer[0] === -2) return { refused: "password" };
    return this.directoryFollows(roomId, answer, 0);
  }

  async removeMember(roomId: string, username: string, now: number): Promise<MembershipChange> {
    const user = nameKey(username);
    const answer = (await this.shard.remove(roomId, user, username, now))!;
    await this.forgetUnlessMember(roomId, user);
    return this.directoryFollows(roomId, answer, now);
  }

  async bar(roomId: string, username: string, now: number): Promise<Barring> {
    const user = nameKey(username);
    const answer = await this.shard.remove(roomId, user, username, now, MAX_BARRED_PER_ROOM);
    if (!answer) return null;
    if (answer[0] === -3) return { refused: "full" };
    await this.forgetUnlessMember(roomId, user);
    return this.directoryFollows(roomId, answer, now);
  }

  /**
   * Takes the room out of the user's index unless the shard says, after, that they are a member
   * (another tab's join may have come in between): the index never misses a room they are in.
   */
  private async forgetUnlessMember(roomId: string, user: string): Promise<void> {
    await this.userIndex.left(user, roomId);
    if (await this.redis.hexists(this.keys.roomMembers(roomId), user)) await this.userIndex.joined(user, roomId);
  }

  /** After the room's shard changed its members: the directory follows (empty or not, revision). */
  private async directoryFollows(roomId: string, [changed, memberCount, username]: ShardMembership, now: number): Promise<MembershipChange> {
    if (changed !== 1) return { changed: false, memberCount, rev: 0, username };
    const rev = await this.directory.membershipChanged(roomId, memberCount, memberCount === 0 ? now : null);
    return { changed: true, memberCount, rev, username };
  }

  async unbar(roomId: string, username: string): Promise<boolean> {
    return (await this.redis.hdel(this.keys.roomBarred(roomId), nameKey(username))) === 1;
  }

  barred(roomId: string): Promise<string[]> {
    return this.redis.hvals(this.keys.roomBarred(roomId));
  }

  idleRooms(before: number, limit: number): Promise<string[]> {
    return this.directory.idleRooms(before, limit);
  }

  members(roomId: string): Promise<string[]> {
    return this.redis.hvals(this.keys.roomMembers(roomId));
  }

  async isMember(roomId: string, username: string): Promise<boolean> {
    return (await this.redis.hexists(this.keys.roomMembers(roomId), nameKey(username))) === 1;
  }

  /** Only rooms that exist and name the user as their owner (the owned set may hold a reservation). */
  async ownedBy(username: string): Promise<string[]> {
    const ids = await this.userIndex.owned(nameKey(username));
    const rooms = await Promise.all(ids.map((id) => this.get(id)));
    return ids.filter((_, i) => rooms[i] && nameKey(rooms[i]!.owner) === nameKey(username));
  }

  roomsOf(username: string, limit?: number): Promise<string[]> {
    return this.userIndex.rooms(nameKey(username), limit);
  }

  currentKey(roomId: string): Promise<RoomKey | null> {
    return this.shard.currentKey(roomId);
  }

  async rotateKey(roomId: string, key: string): Promise<RoomKey> {
    const id = await this.shard.rotateKey(roomId, key);
    if (id === 0) throw new Error(`rotateKey: no room ${roomId}`);
    return { id, key };
  }

  async acceptMessage(message: IncomingMessage, cap: HistoryCap): Promise<RoomAcceptResult | null> {
    const { roomId, from } = message;
    const k = this.keys;
    // Waiting for replicas, a message is delivered only after the WAIT (by the caller): announced
    // from inside the script, it would reach clients before it is safe from a failover.
    const announcement = this.waitedAccept ? undefined : this.announce?.(message);
    const run = this.waitedAccept ? (keys: string[], args: Array<string | number>) => this.waitedAccept!.runReplicated(keys, args, wroteMessage) : this.shard.acceptScript;
    const result = await run(
      [k.roomMeta(roomId), k.roomHistory(roomId), k.roomMessageIds(roomId), k.roomMessageIdExpiry(roomId), k.roomMembers(roomId), announcement?.channel ?? k.roomMeta(roomId), k.roomEdits(roomId)],
      [
        ...acceptArgs(message, cap.maxMessages, oldestKept(cap, message.ts), this.messageIdWindowSec),
        announcement?.head ?? "",
        announcement?.tail ?? "",
        nameKey(from),
      ],
    );
    if (Array.isArray(result) && result[0] === 3) return { notMember: true };
    const accepted = acceptResult(result, message.ts, announcement !== undefined);
    // A repeat that waited again is delivered again: the first attempt may have been refused.
    if (this.waitedAccept && accepted && "duplicate" in accepted && accepted.duplicate) accepted.deliver = true;
    return accepted;
  }

  changeMessage(change: MessageChange, cap: Pick<HistoryCap, "maxAgeMs">): Promise<MessageChangeResult> {
    const waited = this.waitedChange;
    const run = waited ? (keys: string[], args: Array<string | number>) => waited.runReplicated(keys, args, changedMessage) : undefined;
    return this.shard.changeMessage(change, oldestKept(cap, change.at), run);
  }

  async history(roomId: string, query: HistoryQuery): Promise<RoomMessage[]> {
    return (await this.reader.read(this.keys.roomHistory(roomId), query, this.keys.roomEdits(roomId))).map((entry) => ({ roomId, ...entry }));
  }

  async clearHistory(roomId: string): Promise<void> {
    await this.redis.del(this.keys.roomHistory(roomId), this.keys.roomEdits(roomId));
  }

  async setRetention(roomId: string, maxMessages: number): Promise<void> {
    await this.shard.retain(roomId, maxMessages);
  }

  keysById(roomId: string, ids: number[]): Promise<RoomKey[]> {
    return keysFromHash(this.redis, this.keys.roomKeys(roomId), ids);
  }
}
