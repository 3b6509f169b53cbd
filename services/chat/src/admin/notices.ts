/**
 * What an operator's action (or a user's own, from their account page) tells the nodes, so that it
 * takes effect live on every node: sessions ended, a room deleted, a deleted user gone from a room.
 * The action changes the stores first, once, wherever it runs (the admin CLI, a node's admin page,
 * an embedded node's admin socket); then it publishes one notice, and every node applies it to its
 * own sockets (realtime/admin-notices.ts). A notice carries everything the sockets are told (the
 * new room key too), so applying it writes nothing, and every node may apply it.
 *
 * With Redis the notices travel on one sharded channel of the global scope (SPUBLISH: one shard of
 * a Redis Cluster carries it), which every node's subscriber connection subscribes to; embedded,
 * they are applied in-process.
 */
import type { RoomKey, RoomSummary, SignOutReason } from "@sala/protocol";
import type { RedisClient } from "../redis.js";
import type { RedisKeys } from "../stores/redis/keys.js";

export type AdminNotice =
  /**
   * End these sessions' sockets (`sessionRooms`: http/session.ts sessionRoom, never empty), or every
   * socket of the user (null) but those of the session `except` (the one changing its password).
   */
  | { kind: "end_sessions"; user: string; sessionRooms: string[] | null; except?: string; reason: SignOutReason }
  | { kind: "room_deleted"; roomId: string; name: string; rev: number }
  /** A deleted account left the room: its sockets leave it; the others hear it and get `key` (a private room's new key). */
  | { kind: "member_left"; roomId: string; username: string; summary: RoomSummary | null; rev: number; key: RoomKey | null };

export interface NoticeBoard {
  publish(notice: AdminNotice): Promise<void>;
}

/** Publishes on Redis: every node subscribed (realtime/admin-notices.ts) applies the notice. */
export function redisNoticeBoard(redis: RedisClient, keys: RedisKeys): NoticeBoard {
  const channel = keys.adminNotices;
  return {
    async publish(notice) {
      await redis.spublish(channel, JSON.stringify(notice));
    },
  };
}

/** Embedded: the one node applies the notice at once. */
export function localNoticeBoard(apply: (notice: AdminNotice) => void): NoticeBoard {
  return {
    async publish(notice) {
      apply(notice);
    },
  };
}
