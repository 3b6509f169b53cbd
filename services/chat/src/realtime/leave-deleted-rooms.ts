import { SocketRooms, type SalaSocket } from "./types.js";

/**
 * A socket leaves a deleted room's Socket.IO room as the deletion notice is written to it, on
 * whatever node it is. A cluster-wide socketsLeave sent after the notice raced it on a Redis
 * Cluster: the notice goes on the room's channel (the room's shard), socketsLeave on the adapter's
 * main channel (another shard), and a node that applied the leave first dropped the notice
 * (cluster-chat.redis-cluster.int.test.ts, "deletion returns members to the lobby"). Here the
 * order is the socket's own. The leave waits for the broadcast that notifies to finish.
 */
export function leaveDeletedRooms(socket: SalaSocket): void {
  socket.onAnyOutgoing((event: string, payload: { roomId?: unknown } | undefined) => {
    if (event === "room_deleted" && typeof payload?.roomId === "string") {
      const room = SocketRooms.room(payload.roomId);
      queueMicrotask(() => void socket.leave(room));
    }
  });
}
