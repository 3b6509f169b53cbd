/**
 * Applies operators' notices (admin/notices.ts) to this node's own sockets: every node gets each
 * notice and acts only on the sockets it holds (`io.local`), so nothing is sent twice. Nothing here
 * writes to a store: the action that published the notice did that, once.
 */
import type { Logger } from "../logger.js";
import type { RedisClient } from "../redis.js";
import type { AdminNotice } from "../admin/notices.js";
import { sessionRoom } from "../http/session.js";
import { localSocketsIn, SocketRooms, type SalaServer } from "./types.js";

export function applyNotice(io: SalaServer, notice: AdminNotice): void {
  const local = io.local;
  switch (notice.kind) {
    case "end_sessions": {
      const ending = notice.sessionRooms && new Set(notice.sessionRooms);
      for (const socket of localSocketsIn(io, SocketRooms.user(notice.user))) {
        const session = sessionRoom(socket.data.session.id);
        if ((ending && !ending.has(session)) || session === notice.except) continue;
        // Told first: engine.io writes what is queued before it closes the connection.
        socket.emit("signed_out", { reason: notice.reason });
        socket.disconnect(true);
      }
      return;
    }
    case "room_deleted": {
      // Each socket leaves the room as this reaches it (leave-deleted-rooms.ts).
      local.to(SocketRooms.room(notice.roomId)).emit("room_deleted", { roomId: notice.roomId, name: notice.name });
      local.to(SocketRooms.lobbyRoom(notice.roomId)).emit("lobby_update", { presence: [], rooms: [{ removed: notice.roomId, rev: notice.rev }] });
      return;
    }
    case "member_left": {
      const { roomId, username, summary, rev, key } = notice;
      const room = SocketRooms.room(roomId);
      local.in(SocketRooms.user(username)).socketsLeave(room);
      local.to(room).except(SocketRooms.user(username)).emit("member_left", { roomId, username, reason: "left" });
      if (summary) local.to(SocketRooms.lobbyRoom(roomId)).emit("lobby_update", { presence: [], rooms: [{ room: summary, rev }] });
      if (key) local.to(room).except(SocketRooms.user(username)).emit("room_key", { roomId, key });
      return;
    }
  }
}

const isName = (value: unknown): value is string => typeof value === "string" && value.length > 0 && value.length <= 200;

/**
 * Parses a notice off the wire; null for anything that is not a well-formed one (a malformed notice
 * must never widen what it reaches: no empty or missing room list is read as "everyone").
 */
export function parseNotice(raw: string): AdminNotice | null {
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(raw) as Record<string, unknown>;
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null) return null;
  switch (value.kind) {
    case "end_sessions": {
      const rooms = value.sessionRooms;
      const roomsOk = rooms === null || (Array.isArray(rooms) && rooms.length > 0 && rooms.every(isName));
      const exceptOk = value.except === undefined || isName(value.except);
      return isName(value.user) && roomsOk && exceptOk && typeof value.reason === "string" ? (value as unknown as AdminNotice) : null;
    }
    case "room_deleted":
      return isName(value.roomId) && typeof value.name === "string" && typeof value.rev === "number" ? (value as unknown as AdminNotice) : null;
    case "member_left":
      return isName(value.roomId) && isName(value.username) && typeof value.rev === "number" ? (value as unknown as AdminNotice) : null;
    default:
      return null;
  }
}

/**
 * Subscribes this node's subscriber connection to the notices' sharded channel (ioredis
 * resubscribes after a reconnect). The adapter's own handler on the same connection dispatches by
 * channel name, so it never sees these.
 */
export async function followNotices(sub: RedisClient, channel: string, io: SalaServer, logger: Logger): Promise<void> {
  sub.on("smessage", (from: string, message: string) => {
    if (from !== channel) return;
    const notice = parseNotice(message);
    if (!notice) {
      logger.warn({ event: "admin_notice_malformed" }, "ignored a malformed admin notice");
      return;
    }
    try {
      applyNotice(io, notice);
      logger.info({ event: "admin_notice_applied", kind: notice.kind }, "applied an operator's notice to this node's sockets");
    } catch (error) {
      logger.error({ event: "admin_notice_failed", kind: notice.kind, err: (error as Error).message }, "could not apply an operator's notice");
    }
  });
  await sub.ssubscribe(channel);
}
