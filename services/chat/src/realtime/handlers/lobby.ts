import { defineEvent, type EventTable } from "../event-gate.js";
import type { LobbyViews } from "../lobby-views.js";

export function lobbyHandlers(deps: { lobbyViews: LobbyViews }): Pick<EventTable, "lobby" | "lobby_users" | "lobby_rooms"> {
  const { lobbyViews } = deps;
  return {
    /** The lobby snapshot again, e.g. after a reconnect or on returning from a room. */
    lobby: defineEvent("lobby", (socket) => lobbyViews.snapshot(socket)),
    lobby_users: defineEvent("lobby_users", (socket, payload) => lobbyViews.userPage(socket, payload)),
    lobby_rooms: defineEvent("lobby_rooms", (socket, payload) => lobbyViews.roomPage(socket, payload)),
  };
}
