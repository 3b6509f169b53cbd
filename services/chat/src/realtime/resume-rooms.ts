import { TypeCompiler } from "@sinclair/typebox/compiler";
import { ErrorCode } from "@sala/protocol";
import { HandshakeAuth } from "@sala/protocol/schemas";
import type { Logger } from "../logger.js";
import type { RoomStore } from "../stores/types.js";
import { SocketRooms, type SalaSocket } from "./types.js";

const validAuth = TypeCompiler.Compile(HandshakeAuth);

/**
 * A handshake middleware: puts a reconnecting socket back into the rooms its client says it was
 * in (`auth.rooms`), where the user is still a member. It runs before the connection is
 * acknowledged, so events the client buffered while disconnected (a message typed during a drain)
 * find the socket already in its room, and after the node's subscriptions to those rooms are in
 * effect, so the history the client then asks for and the live messages leave no hole between them.
 * confirmResumedRooms then asks the store again once the socket is connected.
 */
export function resumeRooms(rooms: RoomStore, subscriptionsApplied: () => Promise<void>) {
  return async (socket: SalaSocket, next: (error?: Error) => void): Promise<void> => {
    const auth: unknown = socket.handshake.auth ?? {};
    if (!validAuth.Check(auth)) {
      next(new Error(ErrorCode.BAD_REQUEST));
      return;
    }
    try {
      const wanted = [...new Set(auth.rooms ?? [])];
      const resumed = await membersOf(rooms, wanted, socket.data.username);
      if (resumed.length > 0) {
        socket.join(resumed.map(SocketRooms.room));
        // The client asks for what it missed once connected: by then the node hears the rooms.
        await subscriptionsApplied();
      }
      next();
    } catch {
      next(new Error(ErrorCode.UNAVAILABLE));
    }
  };
}

/**
 * Once the socket is connected, and so in its user's Socket.IO room, asks the store again about
 * every room the handshake put it in, and takes it out of those the user is no longer a member of.
 * A kick reaches a user's sockets through that user room (socketsLeave), which reaches only
 * connected sockets: one that landed while this handshake was still under way missed this socket.
 * Asked now, the store has the last word: a kick stored before this read is seen here, and one
 * stored after it finds the socket in the user room. Redis failing here fails closed: the socket is
 * disconnected (the client reconnects and resumes again).
 */
export function confirmResumedRooms(rooms: RoomStore, logger: Logger) {
  return async (socket: SalaSocket): Promise<void> => {
    const resumed = [...socket.rooms].filter(SocketRooms.isRoom).map(SocketRooms.roomId);
    if (resumed.length === 0) return;
    try {
      const still = new Set(await membersOf(rooms, resumed, socket.data.username));
      for (const roomId of resumed) if (!still.has(roomId)) socket.leave(SocketRooms.room(roomId));
    } catch (error) {
      logger.warn({ event: "resume_confirm_failed", user: socket.data.username, err: (error as Error).message }, "could not confirm resumed rooms");
      socket.disconnect(true);
    }
  };
}

async function membersOf(rooms: RoomStore, roomIds: string[], username: string): Promise<string[]> {
  const member = await Promise.all(roomIds.map((roomId) => rooms.isMember(roomId, username)));
  return roomIds.filter((_, i) => member[i]);
}
