import type { Stores } from "../types.js";
import { MemoryAuditStore } from "./audit.js";
import { MemoryConversationStore } from "./conversations.js";
import { MemoryLobbyStore } from "./lobby.js";
import { MemoryPresenceStore } from "./presence.js";
import { Revision } from "./revision.js";
import { MemoryRoomStore } from "./rooms.js";
import { MemorySampleStore } from "./samples.js";
import { MemorySocketCountStore } from "./socket-counts.js";
import { MemorySessionIndexStore } from "./session-index.js";
import { MemoryUserStore } from "./users.js";

/** In-process stores for embedded mode (one node, no Redis) and unit tests. */
export function createMemoryStores(): Stores {
  const revision = new Revision();
  const sessionIndex = new MemorySessionIndexStore();
  const rooms = new MemoryRoomStore(revision);
  const presence = new MemoryPresenceStore(revision);
  return {
    users: new MemoryUserStore(sessionIndex),
    sessionIndex,
    samples: new MemorySampleStore(),
    socketCounts: new MemorySocketCountStore(),
    audit: new MemoryAuditStore(),
    rooms,
    conversations: new MemoryConversationStore(),
    presence,
    lobby: new MemoryLobbyStore(presence, rooms, revision),
  };
}
