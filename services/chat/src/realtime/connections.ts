import { leaveDeletedRooms } from "./leave-deleted-rooms.js";
import type { Logger } from "../logger.js";
import type { EventGate } from "./event-gate.js";
import type { LobbyViews } from "./lobby-views.js";
import type { PresenceTracker } from "./presence-tracker.js";
import { SocketRooms, type SalaServer, type SalaSocket } from "./types.js";

export interface ConnectionDeps {
  io: SalaServer;
  gate: EventGate;
  presence: PresenceTracker;
  lobbyViews: LobbyViews;
  /** Asks the store again about the rooms the handshake resumed (resume-rooms.ts). */
  confirmResumedRooms: (socket: SalaSocket) => Promise<void>;
  logger: Logger;
}

/**
 * The life of one authenticated socket: handlers attached before anything async (so no early
 * event is lost), Socket.IO rooms joined, presence counted, the lobby snapshot sent; on
 * disconnect, presence released (and rooms left when it was the user's last socket anywhere).
 */
export function handleConnections(deps: ConnectionDeps): void {
  const { io, gate, presence, lobbyViews, confirmResumedRooms, logger } = deps;
  io.on("connection", (socket: SalaSocket) => {
    const { username } = socket.data;
    gate.attach(socket);
    leaveDeletedRooms(socket);
    // No room per session: on the sharded adapter every room is a Redis channel, and one per socket
    // cost ≈ 440 bytes of the node's heap and a subscription each; sessions are ended through the
    // user's room (admin-notices.ts).
    socket.join([SocketRooms.lobby, SocketRooms.user(username)]);
    // Now that a kick can reach this socket through its user room.
    void confirmResumedRooms(socket);
    const registered = presence.socketConnected(username).then(
      () => true,
      (error: unknown) => {
        logger.error({ event: "presence_connect_failed", user: username, err: (error as Error).message }, "could not register presence");
        socket.disconnect(true);
        return false;
      },
    );
    void registered.then((ok) => {
      if (ok && socket.connected) void greet(socket, lobbyViews, logger);
    });
    socket.on("disconnect", (reason) => {
      void registered.then(async (ok) => {
        if (!ok) return;
        try {
          await presence.socketDisconnected(username);
        } catch (error) {
          logger.warn({ event: "presence_disconnect_failed", user: username, reason, err: (error as Error).message }, "could not release presence");
        }
      });
    });
  });
}

/**
 * Sends a new socket its lobby snapshot. When it cannot be read (Redis busy or reconnecting), the
 * client asks for it with a `lobby` request once it is overdue.
 */
async function greet(socket: SalaSocket, lobbyViews: LobbyViews, logger: Logger): Promise<void> {
  try {
    socket.emit("lobby", await lobbyViews.snapshot(socket));
  } catch (error) {
    logger.warn({ event: "lobby_snapshot_failed", user: socket.data.username, err: (error as Error).message }, "could not send lobby snapshot");
  }
}
