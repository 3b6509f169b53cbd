/**
 * Applies operators' notices (admin/notices.ts) to this node's own sockets: every node gets each
 * notice and acts only on the sockets it holds (`io.local`), so nothing is sent twice. Nothing here
 * writes to a store: the action that published the notice did that, once.
 */
import type { Logger } from "../logger.js";
import type { RedisClient } from "../redis.js";
import type { AdminNotice } from "../admin/notices.js";
import { SocketRooms, type SalaServer } from "./types.js";

export function applyNotice(io: SalaServer, notice: AdminNotice): void {
  const local = io.local;
  switch (notice.kind) {
    case "end_sessions": {
      const targets = local.in(notice.sessionRooms ?? SocketRooms.user(notice.user));
      // Told first: engine.io writes what is queued before it closes the connection.
      targets.emit("signed_out", { reason: notice.reason });
      targets.disconnectSockets(true);
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

/** Parses a notice off the wire; null for anything that is not one (never trusted blindly). */
export function parseNotice(raw: string): AdminNotice | null {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null) return null;
  const kind = (value as { kind?: unknown }).kind;
  return kind === "end_sessions" || kind === "room_deleted" || kind === "member_left" ? (value as AdminNotice) : null;
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
