import { closeSync, mkdirSync, openSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { SchemaVersionError } from "../schema.js";
import { ACCOUNT_TABLES } from "./account-tables.js";
import { ROOM_TABLES } from "./room-tables.js";

export type SqliteDatabase = Database.Database;

/**
 * The version of the SQLite file's layout, kept in SQLite's own `user_version`. The file's tables
 * are not the Redis keys, so it has a version of its own beside stores/schema.ts's (same rules: a
 * node opens only a file of its version; a bump comes with a migration here and a CHANGELOG note).
 * - 1: the first layout (account-tables.ts, room-tables.ts).
 */
export const SQLITE_SCHEMA_VERSION = 1;

/**
 * Opens (creating when new) the embedded node's SQLite file, in WAL mode: readers never wait for
 * the writer, and a commit is one append to the log. `synchronous = NORMAL` survives a crash of the
 * process (SIGKILL included) with every committed transaction; only a power loss may take the last
 * few — the trade every WAL deployment of SQLite makes for not syncing on each message.
 * `path` ":memory:" gives a private in-memory database (tests).
 */
export function openDatabase(path: string): SqliteDatabase {
  if (path !== ":memory:") createPrivately(path);
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.pragma("foreign_keys = ON");
  // One process owns the file; a second one (sala-admin's backup) waits for the writer, not fails.
  db.pragma("busy_timeout = 5000");
  applySchema(db);
  return db;
}

/**
 * A write transaction, begun IMMEDIATE: it takes the write lock at BEGIN, waiting (busy_timeout)
 * while another connection holds it. A deferred one reads first and asks for the lock later; if the
 * WAL checkpointer's RESTART (checkpointer.ts) holds it then, waiting for readers to finish, the two
 * would wait on each other, so SQLite answers SQLITE_BUSY at once — seen as failed sends in the bench.
 */
export function writeTransaction<F extends (...args: never[]) => unknown>(db: SqliteDatabase, fn: F): F {
  return db.transaction(fn).immediate as unknown as F;
}

/**
 * The file holds every room's keys and history, whispers and password hashes: a new one, and the
 * folder it is made in, are for this user only (SQLite gives the -wal and -shm files the mode of
 * the database file). An existing file keeps the mode its operator gave it.
 */
function createPrivately(path: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  closeSync(openSync(path, "a", 0o600));
}

/**
 * Creates the tables of a new file and records its schema version (user_version, SQLite's own slot
 * for it); refuses a file of another version, as the Redis stores refuse other data
 * (stores/redis/startup.ts).
 */
function applySchema(db: SqliteDatabase): void {
  const version = db.pragma("user_version", { simple: true }) as number;
  if (version === SQLITE_SCHEMA_VERSION) return;
  if (version !== 0) {
    db.close();
    throw new SchemaVersionError(
      `the SQLite file is at schema version ${version}, this node runs version ${SQLITE_SCHEMA_VERSION}: start the Sala release that wrote it, or a newer one with its migration`,
    );
  }
  db.transaction(() => {
    db.exec(ACCOUNT_TABLES);
    db.exec(ROOM_TABLES);
    db.pragma(`user_version = ${SQLITE_SCHEMA_VERSION}`);
  })();
}
