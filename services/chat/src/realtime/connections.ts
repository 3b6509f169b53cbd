import { leaveDeletedRooms } from "./leave-deleted-rooms.js";
import type { LobbySnapshot, LobbyStore } from "../stores/types.js";
import type { Logger } from "../logger.js";
import type { EventGate } from "./event-gate.js";
import type { PresenceTracker } from "./presence-tracker.js";
import { SocketRooms, type SalaServer, type SalaSocket } from "./types.js";

export interface ConnectionDeps {
  io: SalaServer;
  gate: EventGate;
  presence: PresenceTracker;
  lobby: LobbyStore;
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
  const { io, gate, presence, lobby, confirmResumedRooms, logger } = deps;
  const greet = lobbyGreeter(io, lobby, logger);
  io.on("connection", (socket: SalaSocket) => {
    const { username, sessionRoom } = socket.data;
    gate.attach(socket);
    leaveDeletedRooms(socket);
    socket.join([SocketRooms.lobby, SocketRooms.user(username), sessionRoom]);
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
    void registered.then((ok) => ok && socket.connected && greet(socket.id));
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
 * Sends new sockets the lobby snapshot. Sockets whose request got the same (shared) read are sent
 * it as one local broadcast: Socket.IO encodes the packet once and writes it to each, instead of
 * serialising the whole lobby again for every socket of a burst of handshakes.
 */
function lobbyGreeter(io: SalaServer, lobby: LobbyStore, logger: Logger): (socketId: string) => void {
  const waiting = new Map<Promise<LobbySnapshot>, string[]>();
  return (socketId) => {
    const read = lobby.snapshot();
    const group = waiting.get(read);
    if (group) {
      group.push(socketId);
      return;
    }
    const ids = [socketId];
    waiting.set(read, ids);
    read.then(
      (snapshot) => {
        waiting.delete(read);
        io.local.to(ids).emit("lobby", snapshot);
      },
      (error: unknown) => {
        waiting.delete(read);
        logger.warn({ event: "lobby_snapshot_failed", sockets: ids.length, err: (error as Error).message }, "could not send lobby snapshot");
      },
    );
  };
}
