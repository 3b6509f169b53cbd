import { defineEvent, type EventTable } from "../event-gate.js";
import type { RoomService } from "../room-service.js";
import type { LobbyViews } from "../lobby-views.js";

export interface RoomHandlerDeps {
  roomService: RoomService;
  /** A socket follows the lobby entry of a room it joined, until it leaves it. */
  lobbyViews: Pick<LobbyViews, "followOwnRoom" | "unfollowOwnRoom">;
}

export function roomHandlers(deps: RoomHandlerDeps): Pick<EventTable, "my_rooms" | "create_room" | "join_room" | "leave_room" | "delete_room" | "kick" | "unban" | "clear_history" | "set_retention"> {
  const { roomService } = deps;
  return {
    /** The rooms to be back in: a client joins them at every connection (membership lasts until left). */
    my_rooms: defineEvent("my_rooms", async (socket) => ({ rooms: await roomService.memberRooms(socket.data.username) })),
    create_room: defineEvent("create_room", async (socket, { name, password }) => ({
      room: await roomService.create(socket.data.username, name, password),
    })),
    join_room: defineEvent("join_room", async (socket, { roomId, password, resume }) => {
      const joined = await roomService.join(socket, roomId, password, resume === true);
      deps.lobbyViews.followOwnRoom(socket, roomId);
      return joined;
    }),
    leave_room: defineEvent("leave_room", async (socket, { roomId }) => {
      await roomService.leave(socket.data.username, roomId);
      deps.lobbyViews.unfollowOwnRoom(socket, roomId);
      return {};
    }),
    delete_room: defineEvent("delete_room", async (socket, { roomId }) => {
      await roomService.delete(socket.data.username, roomId);
      return {};
    }),
    kick: defineEvent("kick", async (socket, { roomId, username }) => {
      await roomService.kick(socket.data.username, roomId, username);
      return {};
    }),
    unban: defineEvent("unban", async (socket, { roomId, username }) => {
      await roomService.unban(socket.data.username, roomId, username);
      return {};
    }),
    clear_history: defineEvent("clear_history", async (socket, { roomId }) => {
      await roomService.clearHistory(socket.data.username, roomId);
      return {};
    }),
    set_retention: defineEvent("set_retention", async (socket, { roomId, maxMessages }) => ({
      maxMessages: await roomService.setRetention(socket.data.username, roomId, maxMessages),
    })),
  };
}
