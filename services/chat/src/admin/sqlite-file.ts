/**
 * What the SQLite store's backup and restore (sqlite-backup.ts, sqlite-restore.ts) ask of a Sala
 * SQLite file: is it one (and of which schema version), is it whole, what does it hold, and is a
 * node using it. The file's layout is stores/sqlite/database.ts's; nothing here writes to a file.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { link, lstat, open, rename, rm, stat } from "node:fs/promises";
import Database from "better-sqlite3";
import { openDatabase, SQLITE_SCHEMA_VERSION, type SqliteDatabase } from "../stores/sqlite/database.js";
import { AdminError } from "./admin-error.js";

/** The files SQLite keeps beside a database in WAL mode: they belong with it wherever it goes. */
export const SIDE_FILES = ["-wal", "-shm"] as const;

/** The first 16 bytes of every SQLite 3 database file. */
const SQLITE_MAGIC = Buffer.from("SQLite format 3\0", "latin1");
const GZIP_MAGIC = Buffer.from([0x1f, 0x8b]);

/** Rows left out of a backup: login sessions, their per-user index and the throttles' counts (auth/throttle.ts's table). */
export const LIVE_TABLES = ["sessions", "user_sessions", "rate_limits"] as const;

/**
 * The tables a file of this Sala's schema version has: those openDatabase creates on a new file,
 * read from its DDL rather than listed again here.
 */
function expectedTables(): string[] {
  const db = openDatabase(":memory:");
  try {
    return tableNames(db);
  } finally {
    db.close();
  }
}

export function tableNames(db: SqliteDatabase): string[] {
  return db
    .prepare<[], { name: string }>("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
    .all()
    .map(({ name }) => name);
}

/**
 * The file's schema version (PRAGMA user_version, where openDatabase records it) once it is known
 * to be a Sala file of this version with every table; otherwise an AdminError that says what it is.
 * `what` names the file in the message ("/backups/x.sqlite", "DATA_DIR's sala.sqlite").
 */
export function checkSalaFile(db: SqliteDatabase, what: string): number {
  const version = db.pragma("user_version", { simple: true }) as number;
  const tables = tableNames(db);
  if (version === 0 && !tables.includes("users")) throw new AdminError(`${what} is a SQLite database, but not Sala's (no schema version, no users table)`);
  if (version > SQLITE_SCHEMA_VERSION) {
    throw new AdminError(`${what} is at schema version ${version}, written by a newer Sala (this one runs version ${SQLITE_SCHEMA_VERSION}): use that Sala's sala-admin`);
  }
  if (version < SQLITE_SCHEMA_VERSION) {
    throw new AdminError(`${what} is at schema version ${version}; this Sala runs version ${SQLITE_SCHEMA_VERSION} and has no migration for SQLite files of that version`);
  }
  const missing = expectedTables().filter((table) => !tables.includes(table));
  if (missing.length > 0) throw new AdminError(`${what} is at schema version ${version} but lacks table(s) ${missing.join(", ")}: it is damaged or not Sala's`);
  return version;
}

/** PRAGMA quick_check: the b-trees and their pages are sound (not every index entry against its row: that is integrity_check, O(n log n)). */
export function checkIntegrity(db: SqliteDatabase, what: string): void {
  const problems = db.pragma("quick_check(5)", { simple: false }) as { quick_check: string }[];
  if (problems.length !== 1 || problems[0]!.quick_check !== "ok") {
    throw new AdminError(`${what} is damaged (SQLite's quick_check: ${problems.map((row) => row.quick_check).join("; ")})`);
  }
}

/** What a file holds, as the operator counts it. Messages and whispers are those still kept (above the trims). */
export interface SalaContents {
  accounts: number;
  rooms: number;
  messages: number;
  conversations: number;
  whispers: number;
  audit: number;
  sessions: number;
}

/** Counts every row once (the CLI's own process: O(n) reads of the file, never the node's event loop). */
export function countContents(db: SqliteDatabase): SalaContents {
  const one = (sql: string) => (db.prepare<[], { n: number }>(sql).get()?.n ?? 0);
  return {
    accounts: one("SELECT value AS n FROM user_count"),
    rooms: one("SELECT rooms AS n FROM room_counts"),
    // Rows at or below a room's floor, or of a deleted room, are gone already (room-tables.ts).
    messages: one("SELECT count(*) AS n FROM room_messages m JOIN rooms r ON r.rid = m.rid WHERE m.seq > r.floor AND m.deleted = 0"),
    conversations: one("SELECT count(*) AS n FROM conversations"),
    whispers: one("SELECT count(*) AS n FROM conversation_messages m JOIN conversations c ON c.ref = m.conversation WHERE m.seq >= c.kept_from"),
    audit: one("SELECT count(*) AS n FROM audit_log"),
    sessions: one("SELECT count(*) AS n FROM sessions"),
  };
}

/** `accounts=3 rooms=1 messages=120 …` (sessions only when asked: a backup holds none). */
export function formatContents(contents: SalaContents, withSessions = false): string {
  const { sessions, ...data } = contents;
  const parts = Object.entries(data).map(([name, n]) => `${name}=${n}`);
  return withSessions ? [...parts, `sessions=${sessions}`].join(" ") : parts.join(" ");
}

/** Whether the file holds anything a restore over it would lose (accounts, rooms, conversations). */
export function holdsData(contents: SalaContents): boolean {
  return contents.accounts + contents.rooms + contents.conversations > 0;
}

/** What kind of file `path` is, by its first bytes. */
export async function fileKind(path: string): Promise<"sqlite" | "gzip" | "other"> {
  const handle = await open(path, "r");
  try {
    const head = Buffer.alloc(SQLITE_MAGIC.length);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    if (bytesRead === SQLITE_MAGIC.length && head.equals(SQLITE_MAGIC)) return "sqlite";
    if (bytesRead >= 2 && head.subarray(0, 2).equals(GZIP_MAGIC)) return "gzip";
    return "other";
  } finally {
    await handle.close();
  }
}

/** The file's sha256 (what `sha256sum` prints) and size. */
export async function fileDigest(path: string): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return { sha256: hash.digest("hex"), bytes: (await stat(path)).size };
}

/** Flushes a file's data to disk, so that a rename after it never exposes a half-written file. */
export async function syncFile(path: string): Promise<void> {
  const handle = await open(path, "r+");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Gives the complete file `from` the name `to`, never over an existing file: a hard link fails if
 * `to` exists (EEXIST, thrown as such), then `from` goes. Where hard links are not available (some
 * mounted file systems) it checks and renames instead, which only a file made in between could beat.
 */
export async function nameWithoutOverwrite(from: string, to: string): Promise<void> {
  try {
    await link(from, to);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EEXIST" || !["EPERM", "ENOTSUP", "EOPNOTSUPP", "ENOSYS", "EMLINK"].includes(code ?? "")) throw error;
    if (await lstat(to).then(() => true, () => false)) throw Object.assign(new Error(`EEXIST: ${to} exists`), { code: "EEXIST" });
    await rename(from, to);
    return;
  }
  await rm(from, { force: true });
}

/**
 * The target file of a restore, locked against every other process, or "busy" when another one
 * has it open. A running node holds a SHARED lock on its file for as long as it runs (WAL mode
 * keeps it from the first read to the close), so the EXCLUSIVE lock taken here fails at once
 * (busy timeout 0) while a node — or anything else — uses the file, whatever PORT or ADMIN_SOCKET
 * it was started with. In EXCLUSIVE locking mode the lock is kept after the transaction, until the
 * connection closes: a node started meanwhile waits for it, then fails, rather than open a file
 * that is being put aside. A file left by a crashed node has its WAL replayed as it opens, and
 * folded into the file as this connection closes — what the node itself does at its next start:
 * the data is unchanged, the file's bytes may not be, also after a refusal or a dry run.
 */
export function lockExclusively(path: string): SqliteDatabase | "busy" {
  const db = new Database(path, { fileMustExist: true, timeout: 0 });
  try {
    db.pragma("locking_mode = EXCLUSIVE");
    db.exec("BEGIN EXCLUSIVE");
    db.exec("COMMIT");
    return db;
  } catch (error) {
    db.close();
    if ((error as { code?: string }).code === "SQLITE_BUSY") return "busy";
    throw error;
  }
}
