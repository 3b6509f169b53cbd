import type { LobbyStore } from "../stores/types.js";
import type { Logger } from "../logger.js";
import type { EventGate } from "./event-gate.js";
import type { PresenceTracker } from "./presence-tracker.js";
import { SocketRooms, type SalaServer, type SalaSocket } from "./types.js";

export interface ConnectionDeps {
  io: SalaServer;
  gate: EventGate;
  presence: PresenceTracker;
  lobby: LobbyStore;
  logger: Logger;
  /** Called for each room message delivered to a socket of this node. */
  onDelivery?: () => void;
}

/**
 * The life of one authenticated socket: handlers attached before anything async (so no early
 * event is lost), Socket.IO rooms joined, presence counted, the lobby snapshot sent; on
 * disconnect, presence released (and rooms left when it was the user's last socket anywhere).
 */
export function handleConnections(deps: ConnectionDeps): void {
  const { io, gate, presence, lobby, logger } = deps;
  io.on("connection", (socket: SalaSocket) => {
    const { username, sessionRoom } = socket.data;
    gate.attach(socket);
    const onDelivery = deps.onDelivery;
    if (onDelivery) socket.onAnyOutgoing((event: string) => event === "text" && onDelivery());
    socket.join([SocketRooms.lobby, SocketRooms.user(username), sessionRoom]);
    const registered = presence.socketConnected(username).then(
      () => true,
      (error: unknown) => {
        logger.error({ event: "presence_connect_failed", user: username, err: (error as Error).message }, "could not register presence");
        socket.disconnect(true);
        return false;
      },
    );
    void registered.then(async (ok) => {
      if (!ok || !socket.connected) return;
      try {
        socket.emit("lobby", await lobby.snapshot());
      } catch (error) {
        logger.warn({ event: "lobby_snapshot_failed", err: (error as Error).message }, "could not send lobby snapshot");
      }
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
