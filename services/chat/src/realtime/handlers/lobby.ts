import { EmptyPayload, LobbyPagePayload } from "@sala/protocol/schemas";
import { defineEvent, type EventTable } from "../event-gate.js";
import type { LobbyViews } from "../lobby-views.js";

export function lobbyHandlers(deps: { lobbyViews: LobbyViews }): EventTable {
  const { lobbyViews } = deps;
  return {
    /** The lobby snapshot again, e.g. after a reconnect or on returning from a room. */
    lobby: defineEvent(EmptyPayload, (socket) => lobbyViews.snapshot(socket)),
    lobby_users: defineEvent(LobbyPagePayload, (socket, payload) => lobbyViews.userPage(socket, payload)),
    lobby_rooms: defineEvent(LobbyPagePayload, (socket, payload) => lobbyViews.roomPage(socket, payload)),
  };
}
