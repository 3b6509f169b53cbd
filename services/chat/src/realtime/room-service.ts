import { randomBytes } from "node:crypto";
import { ErrorCode, type JoinedRoom, type LeaveReason, type RoomKey, type RoomSummary } from "@sala/protocol";
import type { PasswordHasher } from "../auth/passwords.js";
import type { AttemptThrottle } from "../auth/throttle.js";
import { checkRoomName, checkRoomPassword } from "../domain/names.js";
import { AppError } from "../errors.js";
import type { Logger } from "../logger.js";
import { nameKey, oldestKept, type RoomRecord, type RoomStore } from "../stores/types.js";
import { keysFor, mintKey } from "./epoch-keys.js";
import type { LobbyFeed } from "./lobby-feed.js";
import { SocketRooms, type SalaServer, type SalaSocket } from "./types.js";

export interface RoomServiceDeps {
  rooms: RoomStore;
  io: SalaServer;
  lobbyFeed: LobbyFeed;
  hasher: PasswordHasher;
  /** Wrong room passwords per user and room. */
  roomPasswords: AttemptThrottle;
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
 * tabs share it) and lasts while the user is online; a socket receives a room's traffic once it
 * has joined the room's Socket.IO room. Keys leave the server only towards sockets that joined.
 */
export class RoomService {
  constructor(private readonly deps: RoomServiceDeps) {}

  async create(owner: string, rawName: string, password: string | undefined): Promise<RoomSummary> {
    const name = checkRoomName(rawName);
    const isPrivate = password !== undefined && password !== "";
    if (isPrivate) checkRoomPassword(password);
    const record: RoomRecord = {
      id: randomBytes(12).toString("base64url"),
      name,
      owner,
      passwordHash: isPrivate ? await this.deps.hasher.hash(password) : null,
      createdAt: Date.now(),
    };
    const { created, rev } = await this.deps.rooms.create(record, { id: 1, key: mintKey() });
    if (!created) throw new AppError(ErrorCode.ROOM_EXISTS, "A room with that name exists");
    const summary: RoomSummary = { id: record.id, name, owner, isPrivate, memberCount: 0, createdAt: record.createdAt };
    this.deps.lobbyFeed.roomChanged(summary, rev);
    this.deps.logger.info({ event: "room_created", room: record.id, user: owner, isPrivate }, "room created");
    return summary;
  }

  /**
   * Joins `socket` to a room. A private room asks for its password unless the user is already a
   * member (another tab got in); wrong passwords are throttled per user and room.
   */
  async join(socket: SalaSocket, roomId: string, password: string | undefined): Promise<JoinedRoom> {
    const { rooms, hasher, roomPasswords, io, lobbyFeed } = this.deps;
    const username = socket.data.username;
    const room = await rooms.get(roomId);
    if (!room) throw notFound();
    if (room.passwordHash && !(await rooms.isMember(roomId, username))) {
      const throttleKey = `${nameKey(username)}:${roomId}`;
      const wait = await roomPasswords.take(throttleKey);
      if (wait > 0) {
        throw new AppError(ErrorCode.RATE_LIMITED, "Too many wrong passwords for this room; wait a little", wait);
      }
      const verified = password ? await hasher.verify(room.passwordHash, password) : { ok: false };
      if (!verified.ok) throw new AppError(ErrorCode.WRONG_PASSWORD, "Wrong room password");
      await roomPasswords.reset(throttleKey);
    }
    const change = await rooms.addMember(roomId, username);
    // Into the Socket.IO room, and the node subscribed to its messages, before history is read: a
    // message accepted meanwhile is then in the history, or delivered live, or both (clients drop
    // a seq they hold), never in neither. Live ones can arrive before this join's answer; clients
    // keep them until it comes (docs/PROTOCOL.md 3.4).
    const socketRoom = SocketRooms.room(roomId);
    const wasIn = socket.rooms.has(socketRoom);
    socket.join(socketRoom);
    if (!wasIn) await this.deps.subscriptionsApplied();
    const { key, members, summary, history } = await this.readJoined(roomId).catch((error: unknown) => {
      if (!wasIn) socket.leave(socketRoom);
      throw error;
    });
    if (change.changed) {
      io.to(socketRoom).except(SocketRooms.user(username)).emit("member_joined", { roomId, username });
      lobbyFeed.roomChanged(summary, change.rev);
    }
    // A member reads the room's recent history, whoever was present when it was written: the
    // keys of those epochs come with it (docs/SECURITY.md).
    const keys = (await keysFor(rooms, roomId, history)).filter((older) => older.id !== key.id);
    return { room: summary, members, key, history, keys: [...keys, key] };
  }

  /** What a join answers with; NOT_FOUND when the room was deleted meanwhile. */
  private async readJoined(roomId: string) {
    const { rooms, joinHistory, historyMaxAgeMs } = this.deps;
    const [key, members, summary, history] = await Promise.all([
      rooms.currentKey(roomId),
      rooms.members(roomId),
      rooms.summary(roomId),
      joinHistory > 0 ? rooms.history(roomId, { limit: joinHistory, notBefore: oldestKept({ maxAgeMs: historyMaxAgeMs }, Date.now()) }) : [],
    ]);
    if (!key || !summary) throw notFound();
    return { key, members, summary, history };
  }

  /** The user leaves (every tab of theirs); private rooms get a new key the leaver never sees. */
  async leave(username: string, roomId: string, reason: LeaveReason = "left"): Promise<void> {
    const { rooms, io, lobbyFeed } = this.deps;
    const change = await rooms.removeMember(roomId, username);
    io.in(SocketRooms.user(username)).socketsLeave(SocketRooms.room(roomId));
    if (!change.changed) return;
    const member = change.username;
    io.to(SocketRooms.room(roomId)).except(SocketRooms.user(member)).emit("member_left", { roomId, username: member, reason });
    // The leaver's other tabs are out of the room too: they hear it and go back to the lobby (a
    // kicked user's tabs got `kicked`; an offline one has none).
    if (reason === "left") io.to(SocketRooms.user(member)).emit("member_left", { roomId, username: member, reason });
    const room = await rooms.get(roomId);
    if (!room) return;
    lobbyFeed.roomChanged(summarize(room, change.memberCount), change.rev);
    if (room.passwordHash) await this.rotateKey(roomId, member);
  }

  async kick(owner: string, roomId: string, target: string): Promise<void> {
    const room = await this.ownedRoom(owner, roomId);
    if (nameKey(target) === nameKey(owner)) throw new AppError(ErrorCode.BAD_REQUEST, "You cannot kick yourself");
    if (!(await this.deps.rooms.isMember(roomId, target))) throw new AppError(ErrorCode.NOT_MEMBER, "That user is not in this room");
    this.deps.io.to(SocketRooms.user(target)).emit("kicked", { roomId, name: room.name, by: owner });
    await this.leave(target, roomId, "kicked");
    this.deps.logger.info({ event: "member_kicked", room: roomId, user: owner, target }, "member kicked");
  }

  async delete(owner: string, roomId: string): Promise<void> {
    const room = await this.ownedRoom(owner, roomId);
    const deleted = await this.deps.rooms.delete(roomId);
    if (!deleted) throw notFound();
    const socketRoom = SocketRooms.room(roomId);
    this.deps.io.to(socketRoom).emit("room_deleted", { roomId, name: room.name });
    this.deps.io.in(socketRoom).socketsLeave(socketRoom);
    this.deps.lobbyFeed.roomRemoved(roomId, deleted.rev);
    this.deps.logger.info({ event: "room_deleted", room: roomId, user: owner }, "room deleted");
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

  /** A user's last socket closed (or their node died): they leave every room they were in. */
  async userWentOffline(username: string): Promise<void> {
    const roomIds = await this.deps.rooms.roomsOf(username);
    await Promise.all(roomIds.map((roomId) => this.leave(username, roomId, "offline")));
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
