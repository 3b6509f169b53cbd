import type { Stores } from "../types.js";
import { MemoryPresenceStore } from "../memory/presence.js";
import { Revision } from "../memory/revision.js";
import { MemorySampleStore } from "../memory/samples.js";
import { MemorySocketCountStore } from "../memory/socket-counts.js";
import { SqliteAuditStore } from "./audit.js";
import { SqliteConversationStore } from "./conversations.js";
import type { SqliteDatabase } from "./database.js";
import { SqliteLobbyStore, type LobbyRooms } from "./lobby.js";
import { SqliteRoomStore } from "./rooms.js";
import { SqliteSessionIndexStore } from "./session-index.js";
import { SqliteUserStore } from "./users.js";

export interface SqliteStoreOptions {
  /** Seconds a sender's message id is remembered (MESSAGE_ID_WINDOW_SEC); default config's. */
  messageIdWindowSec?: number;
}

/** The stores kept in the SQLite file: what must survive a restart. */
export type SqliteTables = Pick<Stores, "users" | "sessionIndex" | "audit" | "conversations"> & { rooms: SqliteRoomStore };

/** The stores over the file, on the connection `db`; room changes count on `revision` (the lobby's). */
export function createSqliteTables(db: SqliteDatabase, revision: Revision, options: SqliteStoreOptions = {}): SqliteTables {
  const sessionIndex = new SqliteSessionIndexStore(db);
  return {
    users: new SqliteUserStore(db, sessionIndex),
    sessionIndex,
    audit: new SqliteAuditStore(db),
    rooms: new SqliteRoomStore(db, revision, options.messageIdWindowSec),
    conversations: new SqliteConversationStore(db, options.messageIdWindowSec),
  };
}

/**
 * The embedded node's stores: those over its SQLite file, and the live process's own. Presence,
 * socket counts and health samples are this process's live state — after a restart nobody is
 * online — so they are the memory stores, sharing the lobby revision with the room store as
 * memory/index.ts wires them. The node runs the file's stores on a thread of their own
 * (thread/client.ts gives them here, with `lobbyRooms`); the tests also run them on this thread.
 */
export function createSqliteStores(tables: Omit<SqliteTables, "rooms"> & { rooms: Stores["rooms"] }, lobbyRooms: LobbyRooms, revision: Revision): Stores {
  const presence = new MemoryPresenceStore(revision);
  return {
    ...tables,
    samples: new MemorySampleStore(),
    socketCounts: new MemorySocketCountStore(),
    presence,
    lobby: new SqliteLobbyStore(presence, lobbyRooms, revision),
  };
}

/** Every store on this thread, over `db` (the store contract's tests). */
export function createSqliteStoresHere(db: SqliteDatabase, options: SqliteStoreOptions = {}): Stores {
  const revision = new Revision();
  const tables = createSqliteTables(db, revision, options);
  const rooms = tables.rooms;
  const lobbyRooms: LobbyRooms = {
    mostActive: async (limit) => rooms.mostActive(limit),
    pageByName: async (query) => rooms.pageByName(query),
    count: async () => rooms.count(),
  };
  return createSqliteStores(tables, lobbyRooms, revision);
}
