import { TypeCompiler } from "@sinclair/typebox/compiler";
import { ErrorCode } from "@sala/protocol";
import { HandshakeAuth } from "@sala/protocol/schemas";
import type { RoomStore } from "../stores/types.js";
import { SocketRooms, type SalaSocket } from "./types.js";

const validAuth = TypeCompiler.Compile(HandshakeAuth);

/**
 * A handshake middleware: puts a reconnecting socket back into the rooms its client says it was
 * in (`auth.rooms`), where the user is still a member. It runs before the connection is
 * acknowledged, so events the client buffered while disconnected (a message typed during a drain)
 * find the socket already in its room, and after the node's subscriptions to those rooms are in
 * effect, so the history the client then asks for and the live messages leave no hole between them.
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
        // A kick that landed between the first look and the join has made its socketsLeave
        // already: asked again, the store has the last word, and the socket leaves those rooms.
        const still = new Set(await membersOf(rooms, resumed, socket.data.username));
        for (const roomId of resumed) if (!still.has(roomId)) socket.leave(SocketRooms.room(roomId));
      }
      next();
    } catch {
      next(new Error(ErrorCode.UNAVAILABLE));
    }
  };
}

async function membersOf(rooms: RoomStore, roomIds: string[], username: string): Promise<string[]> {
  const member = await Promise.all(roomIds.map((roomId) => rooms.isMember(roomId, username)));
  return roomIds.filter((_, i) => member[i]);
}
