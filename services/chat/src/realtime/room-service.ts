import { randomBytes } from "node:crypto";
import { ErrorCode, LobbyLimits, type JoinedRoom, type LeaveReason, type RoomKey, type RoomSummary } from "@sala/protocol";
import type { PasswordHasher } from "../auth/passwords.js";
import type { AttemptThrottle } from "../auth/throttle.js";
import { checkRoomName, checkRoomPassword } from "../domain/names.js";
import { AppError } from "../errors.js";
import type { Logger } from "../logger.js";
import { MAX_BARRED_PER_ROOM, nameKey, oldestKept, type Admission, type LobbyStore, type MembershipChange, type RoomRecord, type RoomStore, type UserStore } from "../stores/types.js";
import { keysFor, mintKey } from "./epoch-keys.js";
import type { LobbyFeed } from "./lobby-feed.js";
import { readAsMember } from "./member-read.js";
import { SocketRooms, type SalaServer, type SalaSocket } from "./types.js";

export interface RoomServiceDeps {
  rooms: RoomStore;
  /** Who of a room's members is online (a join answers with it). */
  lobby: Pick<LobbyStore, "onlineOf">;
  /** Kicks bar existing accounts only. */
  users: Pick<UserStore, "get">;
  io: SalaServer;
  lobbyFeed: LobbyFeed;
  hasher: PasswordHasher;
  /** Wrong room passwords per user and room. */
  roomPasswords: AttemptThrottle;
  /** Room creations per user (ROOM_CREATIONS_PER_USER per ROOM_CREATION_WINDOW_SEC). */
  roomCreations: AttemptThrottle;
  /** Rooms one user may own at once (MAX_ROOMS_PER_USER; 0: no limit). */
  maxOwnedRooms: number;
  /** Latest messages sent with a join. */
  joinHistory: number;
  /** The server's cap on messages kept per room (HISTORY_MAX). */
  historyMax: number;
  /** HISTORY_MAX_AGE_SEC in ms (0: no age cap). */
  historyMaxAgeMs: number;
  /** Resolves once this node receives the traffic of the Socket.IO rooms its sockets joined. */
  subscriptionsApplied: () => Promise<void>;
  logger: Logger;
}

const notFound = () => new AppError(ErrorCode.ROOM_NOT_FOUND, "No such room");

/**
 * Rooms: creation, membership, keys and their notices. Membership is per user (all of a user's
 * tabs and devices share it) and lasts until they leave or are kicked, online or not; a socket
 * receives a room's traffic once it has joined the room's Socket.IO room. Keys leave the server only towards sockets that joined.
 */
export class RoomService {
  constructor(private readonly deps: RoomServiceDeps) {}

  async create(owner: string, rawName: string, password: string | undefined): Promise<RoomSummary> {
    const name = checkRoomName(rawName);
    const isPrivate = password !== undefined && password !== "";
    if (isPrivate) checkRoomPassword(password);
    // Taken before the password is hashed: a flood of creations costs the flooder, not argon2.
    const wait = await this.deps.roomCreations.take(nameKey(owner));
    if (wait > 0) throw new AppError(ErrorCode.RATE_LIMITED, "You are creating rooms too fast; wait a little", wait);
    const record: RoomRecord = {
      id: randomBytes(12).toString("base64url"),
      name,
      owner,
      passwordHash: isPrivate ? await this.hashRoomPassword(password, owner) : null,
      createdAt: Date.now(),
    };
    const created = await this.deps.rooms.create(record, { id: 1, key: mintKey() }, this.deps.maxOwnedRooms);
    if (!created.created) {
      if (created.reason === "quota") {
        throw new AppError(ErrorCode.QUOTA_EXCEEDED, `You own ${this.deps.maxOwnedRooms} rooms, the most one user may; delete one first`);
      }
      throw new AppError(ErrorCode.ROOM_EXISTS, "A room with that name exists");
    }
    const summary: RoomSummary = { id: record.id, name, owner, isPrivate, memberCount: 0, createdAt: record.createdAt };
    this.deps.lobbyFeed.roomCreated(summary, created.rev);
    this.deps.logger.info({ event: "room_created", room: record.id, user: owner, isPrivate }, "room created");
    return summary;
  }

  /**
   * Joins `socket` to a room. Whether the user may be in it is decided by the store in one atomic
   * step (admit): a member stays in; a barred user is refused; a private room needs its password,
   * verified here against the hash the store then checks is still the room's. Wrong passwords are
   * throttled per user and room.
   */
  async join(socket: SalaSocket, roomId: string, password: string | undefined, resume = false): Promise<JoinedRoom> {
    const { rooms, io, lobbyFeed } = this.deps;
    const username = socket.data.username;
    const room = await rooms.get(roomId);
    if (!room) throw notFound();
    // A resume admits no one: the membership check below (readAsMember) decides, by the store.
    let admission: Admission = resume ? { changed: false, memberCount: 0, rev: 0, username } : await rooms.admit(roomId, username, null);
    if ("refused" in admission && admission.refused === "password") {
      await this.checkRoomPassword(username, room, password);
      admission = await rooms.admit(roomId, username, room.passwordHash);
    }
    if ("refused" in admission) {
      if (admission.refused === "barred") throw new AppError(ErrorCode.BANNED, "The owner has barred you from this room");
      throw new AppError(ErrorCode.WRONG_PASSWORD, "Wrong room password");
    }
    // Into the Socket.IO room, and the node subscribed to its messages, before history is read: a
    // message accepted meanwhile is then in the history, or delivered live, or both (clients drop
    // a seq they hold), never in neither. Live ones can arrive before this join's answer; clients
    // keep them until it comes (docs/PROTOCOL.md 3.4).
    const socketRoom = SocketRooms.room(roomId);
    const wasIn = socket.rooms.has(socketRoom);
    socket.join(socketRoom);
    if (!wasIn) await this.deps.subscriptionsApplied();
    const { key, members, online, summary, history, banned } = await readAsMember(rooms, roomId, username, () => this.readJoined(roomId, room.owner, username)).catch(
      (error: unknown) => {
        if (!wasIn) socket.leave(socketRoom);
        throw error;
      },
    );
    if (admission.changed) {
      io.to(socketRoom).except(SocketRooms.user(username)).emit("member_joined", { roomId, username });
      lobbyFeed.roomChanged(summary, admission.rev);
    }
    // A member reads the room's recent history, whoever was present when it was written: the
    // keys of those epochs come with it (docs/SECURITY.md).
    const keys = (await keysFor(rooms, roomId, history)).filter((older) => older.id !== key.id);
    return { room: summary, members, online, key, history, keys: [...keys, key], banned };
  }

  /**
   * Per caller: one user's hashes cannot take the whole room-password lane (auth/hash-queue.ts).
   * A creation refused there (BUSY) is given back to the creation budget: nothing was created.
   */
  private async hashRoomPassword(password: string, owner: string): Promise<string> {
    try {
      return await this.deps.hasher.hash(password, owner);
    } catch (error) {
      await this.deps.roomCreations.refund(nameKey(owner));
      throw error;
    }
  }

  /** Verifies a private room's password for a user who is not a member yet (throttled). */
  private async checkRoomPassword(username: string, room: RoomRecord, password: string | undefined): Promise<void> {
    const throttleKey = `${nameKey(username)}:${room.id}`;
    const wait = await this.deps.roomPasswords.take(throttleKey);
    if (wait > 0) {
      throw new AppError(ErrorCode.RATE_LIMITED, "Too many wrong passwords for this room; wait a little", wait);
    }
    let verified = { ok: false };
    try {
      if (password && room.passwordHash) verified = await this.deps.hasher.verify(room.passwordHash, password, username);
    } catch (error) {
      await this.deps.roomPasswords.refund(throttleKey); // nothing was checked (BUSY, Redis down)
      throw error;
    }
    if (!verified.ok) throw new AppError(ErrorCode.WRONG_PASSWORD, "Wrong room password");
    await this.deps.roomPasswords.reset(throttleKey);
  }

  /** What a join answers with; NOT_FOUND when the room was deleted meanwhile. */
  private async readJoined(roomId: string, owner: string, username: string) {
    const { rooms, joinHistory, historyMaxAgeMs } = this.deps;
    const [key, members, summary, history, banned] = await Promise.all([
      rooms.currentKey(roomId),
      rooms.members(roomId),
      rooms.summary(roomId),
      joinHistory > 0 ? rooms.history(roomId, { limit: joinHistory, notBefore: oldestKept({ maxAgeMs: historyMaxAgeMs }, Date.now()) }) : [],
      nameKey(owner) === nameKey(username) ? rooms.barred(roomId) : [],
    ]);
    if (!key || !summary) throw notFound();
    const { online } = await this.deps.lobby.onlineOf(members);
    return { key, members, online, summary, history, banned };
  }

  /**
   * The rooms the user is a member of (at most LobbyLimits.myRoomsMax, any of them when more), as
   * the room shards say: the user's room index is derived, so each entry is checked.
   */
  async memberRooms(username: string): Promise<RoomSummary[]> {
    const { rooms } = this.deps;
    const ids = await rooms.roomsOf(username, LobbyLimits.myRoomsMax);
    const member = await Promise.all(ids.map((id) => rooms.isMember(id, username)));
    return rooms.summaries(ids.filter((_, i) => member[i]));
  }

  /** The user leaves (every tab of theirs); private rooms get a new key the leaver never sees. */
  async leave(username: string, roomId: string): Promise<void> {
    await this.departed(roomId, await this.deps.rooms.removeMember(roomId, username, Date.now()), "left");
  }

  /**
   * After the store removed a member: their sockets leave the room on every node, the others hear
   * it, the lobby's count changes, and the key is rotated (private rooms; any room on a kick).
   */
  private async departed(roomId: string, change: MembershipChange, reason: LeaveReason): Promise<void> {
    const { rooms, io, lobbyFeed } = this.deps;
    io.in(SocketRooms.user(change.username)).socketsLeave(SocketRooms.room(roomId));
    if (!change.changed) return;
    const member = change.username;
    io.to(SocketRooms.room(roomId)).except(SocketRooms.user(member)).emit("member_left", { roomId, username: member, reason });
    // The leaver's other tabs are out of the room too: they hear it and go back to the lobby (a
    // kicked user's tabs got `kicked`; an offline one has none).
    if (reason === "left") io.to(SocketRooms.user(member)).emit("member_left", { roomId, username: member, reason });
    const room = await rooms.get(roomId);
    if (!room) return;
    lobbyFeed.roomChanged(summarize(room, change.memberCount), change.rev);
    // A private room's key changes with every departure; a public room's with a kick, since the
    // barred user keeps the key they had and must not read what follows.
    if (room.passwordHash || reason === "kicked") await this.rotateKey(roomId, member);
  }

  /**
   * The owner removes a user and bars them until `unban`, in one atomic step in the store: from
   * then on no join, resume, message, history read or key reaches them (docs/SECURITY.md). Barring
   * someone who is not in the room at the moment bars them all the same, if the account exists: a
   * room's list of barred users holds real accounts only, and at most MAX_BARRED_PER_ROOM.
   */
  async kick(owner: string, roomId: string, target: string): Promise<void> {
    const room = await this.ownedRoom(owner, roomId);
    if (nameKey(target) === nameKey(owner)) throw new AppError(ErrorCode.BAD_REQUEST, "You cannot kick yourself");
    if (!(await this.deps.users.get(target))) throw new AppError(ErrorCode.USER_NOT_FOUND, "There is no such user");
    const change = await this.deps.rooms.bar(roomId, target, Date.now());
    if (!change) throw notFound();
    if ("refused" in change) {
      throw new AppError(ErrorCode.QUOTA_EXCEEDED, `This room already bars ${MAX_BARRED_PER_ROOM} users; unban some first`);
    }
    // Only someone who was in the room hears they were kicked; anyone barred is told only on a join.
    if (change.changed) this.deps.io.to(SocketRooms.user(target)).emit("kicked", { roomId, name: room.name, by: owner });
    this.deps.io.to(SocketRooms.user(room.owner)).emit("ban_changed", { roomId, username: change.username, banned: true });
    await this.departed(roomId, change, "kicked");
    this.deps.logger.info({ event: "member_kicked", room: roomId, user: owner, target, wasMember: change.changed }, "member kicked and barred");
  }

  /** The owner lets a barred user back (they may join again, with the password for a private room). */
  async unban(owner: string, roomId: string, target: string): Promise<void> {
    const room = await this.ownedRoom(owner, roomId);
    if (!(await this.deps.rooms.unbar(roomId, target))) return;
    this.deps.io.to(SocketRooms.user(room.owner)).emit("ban_changed", { roomId, username: target, banned: false });
    this.deps.logger.info({ event: "member_unbanned", room: roomId, user: owner, target }, "member unbanned");
  }

  async delete(owner: string, roomId: string): Promise<void> {
    const room = await this.ownedRoom(owner, roomId);
    const deleted = await this.deps.rooms.delete(roomId);
    if (!deleted) throw notFound();
    this.removed(room, deleted.rev);
    this.deps.logger.info({ event: "room_deleted", room: roomId, user: owner }, "room deleted");
  }

  /**
   * Deletes rooms that have been empty since before `idleBefore` (ms), at most `limit` of them;
   * returns how many. The store checks again, atomically, that each is still empty and idle, so a
   * room someone joined meanwhile stays, and several nodes sweeping at once delete each room once.
   */
  async expireIdle(idleBefore: number, limit: number): Promise<number> {
    let expired = 0;
    for (const roomId of await this.deps.rooms.idleRooms(idleBefore, limit)) {
      const room = await this.deps.rooms.get(roomId);
      const deleted = await this.deps.rooms.delete(roomId, idleBefore);
      if (!room || !deleted) continue;
      this.removed(room, deleted.rev);
      expired += 1;
      this.deps.logger.info({ event: "room_expired", room: roomId, owner: room.owner }, "idle empty room expired");
    }
    return expired;
  }

  /** Tells the room's sockets and the lobby that a deleted room is gone. */
  private removed(room: RoomRecord, rev: number): void {
    const socketRoom = SocketRooms.room(room.id);
    // Each socket leaves the room as this reaches it (leave-deleted-rooms.ts).
    this.deps.io.to(socketRoom).emit("room_deleted", { roomId: room.id, name: room.name });
    this.deps.lobbyFeed.roomRemoved(room.id, rev);
  }

  /** The owner deletes the room's stored messages; members are told to drop theirs. */
  async clearHistory(owner: string, roomId: string): Promise<void> {
    await this.ownedRoom(owner, roomId);
    await this.deps.rooms.clearHistory(roomId);
    this.deps.io.to(SocketRooms.room(roomId)).emit("history_cleared", { roomId, by: owner });
    this.deps.logger.info({ event: "history_cleared", room: roomId, user: owner }, "room history cleared");
  }

  /** The owner sets how many messages the room keeps (never more than the server's cap). */
  async setRetention(owner: string, roomId: string, maxMessages: number): Promise<number> {
    await this.ownedRoom(owner, roomId);
    const kept = Math.min(maxMessages, this.deps.historyMax);
    await this.deps.rooms.setRetention(roomId, kept);
    return kept;
  }

  /**
   * A member came online or went offline (after the presence grace, or their node died): the
   * sockets of each of their rooms are told. They stay a member: leaving is explicit.
   */
  async memberPresence(username: string, online: boolean): Promise<void> {
    const roomIds = await this.deps.rooms.roomsOf(username);
    for (const roomId of roomIds) this.deps.io.to(SocketRooms.room(roomId)).emit("member_presence", { roomId, username, online });
  }

  private async ownedRoom(actor: string, roomId: string): Promise<RoomRecord> {
    const room = await this.deps.rooms.get(roomId);
    if (!room) throw notFound();
    if (nameKey(room.owner) !== nameKey(actor)) throw new AppError(ErrorCode.NOT_OWNER, "Only the room's owner can do that");
    return room;
  }

  private async rotateKey(roomId: string, departed: string): Promise<RoomKey> {
    const key = await this.deps.rooms.rotateKey(roomId, mintKey());
    // `except` as well as socketsLeave above: the departed user's sockets never get the new key,
    // even on a node that has not yet applied the leave.
    this.deps.io.to(SocketRooms.room(roomId)).except(SocketRooms.user(departed)).emit("room_key", { roomId, key });
    this.deps.logger.info({ event: "room_key_rotated", room: roomId, keyId: key.id }, "room key rotated");
    return key;
  }
}

function summarize(room: RoomRecord, memberCount: number): RoomSummary {
  return {
    id: room.id,
    name: room.name,
    owner: room.owner,
    isPrivate: room.passwordHash !== null,
    memberCount,
    createdAt: room.createdAt,
  };
}
