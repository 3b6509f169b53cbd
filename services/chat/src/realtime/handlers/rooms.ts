import { CreateRoomPayload, JoinRoomPayload, KickPayload, RetentionPayload, RoomRefPayload } from "@sala/protocol/schemas";
import { defineEvent, type EventTable } from "../event-gate.js";
import type { RoomService } from "../room-service.js";

export function roomHandlers(deps: { roomService: RoomService }): EventTable {
  const { roomService } = deps;
  return {
    create_room: defineEvent(CreateRoomPayload, async (socket, { name, password }) => ({
      room: await roomService.create(socket.data.username, name, password),
    })),
    join_room: defineEvent(JoinRoomPayload, (socket, { roomId, password }) => roomService.join(socket, roomId, password)),
    leave_room: defineEvent(RoomRefPayload, async (socket, { roomId }) => {
      await roomService.leave(socket.data.username, roomId);
      return {};
    }),
    delete_room: defineEvent(RoomRefPayload, async (socket, { roomId }) => {
      await roomService.delete(socket.data.username, roomId);
      return {};
    }),
    kick: defineEvent(KickPayload, async (socket, { roomId, username }) => {
      await roomService.kick(socket.data.username, roomId, username);
      return {};
    }),
    unban: defineEvent(KickPayload, async (socket, { roomId, username }) => {
      await roomService.unban(socket.data.username, roomId, username);
      return {};
    }),
    clear_history: defineEvent(RoomRefPayload, async (socket, { roomId }) => {
      await roomService.clearHistory(socket.data.username, roomId);
      return {};
    }),
    set_retention: defineEvent(RetentionPayload, async (socket, { roomId, maxMessages }) => ({
      maxMessages: await roomService.setRetention(socket.data.username, roomId, maxMessages),
    })),
  };
}
