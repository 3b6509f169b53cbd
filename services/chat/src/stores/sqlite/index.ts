import type { Stores } from "../types.js";
import { MemoryPresenceStore } from "../memory/presence.js";
import { Revision } from "../memory/revision.js";
import { MemorySampleStore } from "../memory/samples.js";
import { MemorySocketCountStore } from "../memory/socket-counts.js";
import { SqliteAuditStore } from "./audit.js";
import { SqliteConversationStore } from "./conversations.js";
import type { SqliteDatabase } from "./database.js";
import { SqliteLobbyStore } from "./lobby.js";
import { SqliteRoomStore } from "./rooms.js";
import { SqliteSessionIndexStore } from "./session-index.js";
import { SqliteUserStore } from "./users.js";

export interface SqliteStoreOptions {
  /** Seconds a sender's message id is remembered (MESSAGE_ID_WINDOW_SEC); default config's. */
  messageIdWindowSec?: number;
}

/**
 * The embedded node's stores over its SQLite file (database.ts): everything that must survive a
 * restart is in the file. Presence, socket counts and health samples are this process's live
 * state — after a restart nobody is online — so they are the memory stores, sharing the lobby
 * revision with the room store as memory/index.ts wires them.
 */
export function createSqliteStores(db: SqliteDatabase, options: SqliteStoreOptions = {}): Stores {
  const revision = new Revision();
  const sessionIndex = new SqliteSessionIndexStore(db);
  const rooms = new SqliteRoomStore(db, revision, options.messageIdWindowSec);
  const presence = new MemoryPresenceStore(revision);
  return {
    users: new SqliteUserStore(db, sessionIndex),
    sessionIndex,
    samples: new MemorySampleStore(),
    socketCounts: new MemorySocketCountStore(),
    audit: new SqliteAuditStore(db),
    rooms,
    conversations: new SqliteConversationStore(db, options.messageIdWindowSec),
    presence,
    lobby: new SqliteLobbyStore(presence, rooms, revision),
  };
}
