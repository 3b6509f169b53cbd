import { closeSync, openSync, readFileSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import type { SqliteDatabase } from "./database.js";

/** Another process holds the DATA_DIR (a node, or sala-admin's restore): this one must not use it. */
export class DataDirInUseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DataDirInUseError";
  }
}

/** Who holds a DATA_DIR, as its lock's owner file says it (for messages only). */
const OWNER_SUFFIX = ".owner";

/**
 * One process at a time on a DATA_DIR: the node that serves it, or sala-admin's restore while it
 * swaps the file. A second node on the folder would share the file but not the live state kept
 * beside it in each process (presence, the lobby's revision, recent message ids); a node starting
 * during a restore would open the file about to be replaced.
 *
 * The lock is the kernel's: `node.lock` is an empty SQLite file on which the holder keeps an
 * exclusive transaction open (a POSIX record lock, SQLite's own locking), which the kernel drops
 * when the process ends, however it ends (SIGKILL included). No pid decides anything: a pid names
 * nothing across containers (both a node and sala-admin are pid 1 in theirs), and a lock left
 * behind by a dead process would need a check-then-delete that two starters could race. The file
 * itself is never deleted: a starter may hold it open, and a new file beside would be a second lock.
 * `node.lock.owner` says who took it last, for the refusal's message (each holder writes it).
 */
export class DataDirLock {
  private constructor(private readonly db: SqliteDatabase) {}

  /** Takes the folder's lock for this process, described as `holder` ("a Sala node"); refused while another process holds it. */
  static acquire(dataDir: string, holder: string): DataDirLock {
    const file = join(dataDir, "node.lock");
    // Made for this user only; an existing file keeps its mode.
    closeSync(openSync(file, "a", 0o600));
    let db: SqliteDatabase;
    try {
      db = lockedOrOlder(file);
    } catch (error) {
      throw (error as { code?: unknown }).code === "SQLITE_BUSY" ? inUse(dataDir, file) : error;
    }
    // Read only while the lock is held, so it names the holder; left behind after (the last holder's).
    writeFileSync(file + OWNER_SUFFIX, `${holder} (pid ${process.pid})\n`, { mode: 0o600 });
    return new DataDirLock(db);
  }

  /**
   * Refuses, as `acquire` would, while another process holds the folder, without taking it or
   * writing anything (a dry run): a holder's exclusive lock refuses even a read of the file.
   */
  static check(dataDir: string): void {
    const file = join(dataDir, "node.lock");
    let db: SqliteDatabase;
    try {
      db = new Database(file, { readonly: true, fileMustExist: true, timeout: 0 });
    } catch {
      return; // no lock file: no node ever ran here
    }
    try {
      db.prepare("SELECT count(*) FROM sqlite_master").get();
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (code === "SQLITE_BUSY") throw inUse(dataDir, file);
      if (code !== "SQLITE_NOTADB") throw error;
    } finally {
      db.close();
    }
  }

  /** Gives the folder back (a clean stop; the kernel does it for a process that dies). */
  release(): void {
    if (this.db.open) this.db.close();
  }
}

function inUse(dataDir: string, file: string): DataDirInUseError {
  const owner = readOwner(file + OWNER_SUFFIX) ?? "another process";
  return new DataDirInUseError(`DATA_DIR ${dataDir} is in use by ${owner}: one node per DATA_DIR — stop that one, or give this one a DATA_DIR of its own`);
}

/**
 * A connection holding the file's exclusive lock until it closes. A file that is not SQLite is an
 * older Sala's `node.lock` (a pid in text): emptied, which makes it an empty database, and locked.
 */
function lockedOrOlder(file: string): SqliteDatabase {
  try {
    return locked(file);
  } catch (error) {
    if ((error as { code?: unknown }).code !== "SQLITE_NOTADB") throw error;
    truncateSync(file);
    return locked(file);
  }
}

function locked(file: string): SqliteDatabase {
  const db = new Database(file, { timeout: 0 });
  try {
    db.pragma("locking_mode = EXCLUSIVE");
    db.pragma("journal_mode = MEMORY"); // nothing is ever written: no -journal file beside it
    db.exec("BEGIN EXCLUSIVE");
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}

function readOwner(file: string): string | null {
  try {
    return readFileSync(file, "utf8").trim().slice(0, 200) || null;
  } catch {
    return null;
  }
}
