import { EmptyPayload } from "@sala/protocol/schemas";
import type { LobbyStore } from "../../stores/types.js";
import { defineEvent, type EventTable } from "../event-gate.js";

export function lobbyHandlers(deps: { lobby: LobbyStore }): EventTable {
  return {
    /** The lobby snapshot again, e.g. after a reconnect or on returning from a room. */
    lobby: defineEvent(EmptyPayload, async () => deps.lobby.snapshot()),
  };
}
