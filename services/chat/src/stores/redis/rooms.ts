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
import { RoomShard, type ShardMembership } from "./room-shard.js";
import { UserRoomIndex } from "./user-index.js";

const SUMMARY_FIELDS = ["id", "name", "owner", "passwordHash", "createdAt"] as const;

export class RedisRoomStore implements RoomStore {
  readonly shard: RoomShard;
  readonly directory: RoomDirectory;
  readonly userIndex: UserRoomIndex;
  private readonly reader: HistoryReader;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    /** What to publish with each accepted message, so that every node delivers it (none: the caller does). */
    private readonly announce: Announcer | null,
    /** How long a sender's message id is remembered, so that a retry is answered, not posted again. */
    private readonly messageIdWindowSec: number,
  ) {
    this.shard = new RoomShard(redis, keys);
    this.directory = new RoomDirectory(redis, keys);
    this.userIndex = new UserRoomIndex(redis, keys);
    this.reader = new HistoryReader(redis);
  }

  async create(room: RoomRecord, firstKey: RoomKey, maxOwned: number): Promise<RoomCreation> {
    const owner = nameKey(room.owner);
    const named = { ...room, nameKey: nameKey(room.name), skeleton: confusableKey(room.name) };
    if (!(await this.userIndex.reserveOwned(owner, room.id, maxOwned))) return { created: false, reason: "quota" };
    let [written, listed] = [false, false];
    try {
      written = await this.shard.write(named, firstKey);
      if (!written) throw new Error(`create: room id ${room.id} is in use`);
      const claim = await this.directory.claim(room.id, named.nameKey, named.skeleton, room.createdAt);
      if ("rev" in claim) {
        listed = true;
        return { created: true, rev: claim.rev };
      }
      if ("taken" in claim) return { created: false, reason: "name_taken" };
      throw new NameConfusableError("room", (await this.redis.hget(this.keys.roomMeta(claim.lookalikeOf), "name")) || "another room");
    } finally {
      // Refused (or failed half-way): undone, so that nothing of the room stays; what a failure
      // here leaves, the repair removes. Another room's keys (an id in use) are never touched.
      if (!listed) await Promise.all([written ? this.shard.drop(room.id) : undefined, this.userIndex.releaseOwned(owner, room.id)]);
    }
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
        await this.directory.release(roomId, "", "", false);
        return null;
      case "busy": // the idle index was behind (a join raced the sweep)
        await this.directory.markOccupied(roomId);
        return null;
      case "young":
        await this.directory.markEmpty(roomId, deletion.emptySince);
        return null;
    }
    const rev = await this.directory.release(roomId, deletion.nameKey, deletion.skeleton, true);
    await Promise.all([
      ...deletion.members.map((member) => this.userIndex.left(member.key, roomId)),
      // Usernames are ASCII (USERNAME_PATTERN): lower case is their name key.
      deletion.owner ? this.userIndex.releaseOwned(nameKey(deletion.owner), roomId) : undefined,
    ]);
    return { members: deletion.members.map((member) => member.name), rev };
  }

  async admit(roomId: string, username: string, verifiedHash: string | null): Promise<Admission> {
    const user = nameKey(username);
    const answer = await this.shard.admit(roomId, user, username, verifiedHash);
    if (answer[0] === -1) return { refused: "barred" };
    if (answer[0] === -2) return { refused: "password" };
    return this.followMembership(roomId, user, answer, true, 0);
  }

  async removeMember(roomId: string, username: string, now: number): Promise<MembershipChange> {
    const user = nameKey(username);
    return this.followMembership(roomId, user, (await this.shard.remove(roomId, user, username, now))!, false, now);
  }

  async bar(roomId: string, username: string, now: number): Promise<Barring> {
    const user = nameKey(username);
    const answer = await this.shard.remove(roomId, user, username, now, MAX_BARRED_PER_ROOM);
    if (!answer) return null;
    return answer[0] === -3 ? { refused: "full" } : this.followMembership(roomId, user, answer, false, now);
  }

  /** After the room's shard changed its members: the user's index and the directory follow. */
  private async followMembership(roomId: string, user: string, [changed, memberCount, username]: ShardMembership, joined: boolean, now: number): Promise<MembershipChange> {
    if (changed !== 1) return { changed: false, memberCount, rev: 0, username };
    const [, rev] = await Promise.all([
      joined ? this.userIndex.joined(user, roomId) : this.userIndex.left(user, roomId),
      this.directory.membershipChanged(roomId, memberCount === 0 ? now : null),
    ]);
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

  roomsOf(username: string): Promise<string[]> {
    return this.userIndex.rooms(nameKey(username));
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
    const announcement = this.announce?.(message);
    const result = await this.shard.acceptScript(
      [k.roomMeta(roomId), k.roomHistory(roomId), k.roomMessageIds(roomId), k.roomMessageIdExpiry(roomId), k.roomMembers(roomId), announcement?.channel ?? k.roomMeta(roomId)],
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

