import { closeSync, existsSync, openSync, readFileSync, renameSync, truncateSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import Database from "better-sqlite3";
import type { SqliteDatabase } from "./database.js";

/** Another process holds the DATA_DIR (a node, or sala-admin's restore): this one must not use it. */
export class DataDirInUseError extends Error {
  constructor(
    message: string,
    /** The holder is sala-admin's restore: wait for it, rather than stop it mid-swap. */
    readonly byRestore = false,
  ) {
    super(message);
    this.name = "DataDirInUseError";
  }
}

/** How a restore describes itself as the lock's holder (sqlite-restore.ts). */
export const RESTORE_HOLDER = "sala-admin restore";

/** Who took a DATA_DIR's lock last, as it wrote it (for messages only). */
const OWNER_SUFFIX = ".owner";
/**
 * How long a taker waits for the lock: a dry run's check holds the file for an instant, which must
 * not turn a starting node away. A real holder keeps it as long as it runs.
 */
const WAIT_MS = 250;

/** The lock files this process holds: a second take here must not touch the file (see acquire). */
const heldHere = new Set<string>();

/**
 * One process at a time on a DATA_DIR: the node that serves it, or sala-admin's restore while it
 * swaps the file. A second node on the folder would share the file but not the live state kept
 * beside it in each process (presence, the lobby's revision, recent message ids); a node starting
 * during a restore would open the file about to be replaced.
 *
 * The lock is the kernel's: `node.lock` is an empty SQLite file on which the holder keeps an
 * exclusive transaction open (a POSIX record lock, SQLite's own locking), which the kernel drops
 * when the process ends, however it ends (SIGKILL included). No pid decides (but an older build's
 * pid file, refuseOlderHolder below): a pid names nothing across containers (both a node and
 * sala-admin are pid 1 in theirs), and a lock left behind by a dead process would need a
 * check-then-delete that two starters could race. The file
 * itself is never deleted: a starter may hold it open, and a new file beside would be a second lock.
 * Like SQLite's own locks, it needs a local filesystem (or NFS with working locks) shared through
 * one kernel. `node.lock.owner` says who took it last, for the refusal's message.
 */
export class DataDirLock {
  private constructor(
    private readonly db: SqliteDatabase,
    private readonly file: string,
  ) {}

  /** Takes the folder's lock for this process, described as `holder` ("a Sala node"); refused while another process holds it. */
  static acquire(dataDir: string, holder: string): DataDirLock {
    const file = resolve(dataDir, "node.lock");
    // POSIX locks are the process's: closing any descriptor of the file here would drop the one held.
    if (heldHere.has(file)) throw heldHereAlready(dataDir);
    createPrivately(file);
    let db: SqliteDatabase;
    try {
      db = lockedOrOlder(dataDir, file);
    } catch (error) {
      throw (error as { code?: unknown }).code === "SQLITE_BUSY" ? inUse(dataDir, file) : error;
    }
    try {
      // Read only while the lock is held, so it names the holder; left behind after (the last holder's).
      writeAtOnce(file + OWNER_SUFFIX, `${holder} (pid ${process.pid})\n`);
    } catch (error) {
      db.close();
      throw error;
    }
    heldHere.add(file);
    return new DataDirLock(db, file);
  }

  /**
   * Refuses, as `acquire` would, while another process holds the folder, without taking it or
   * writing anything (a dry run): a holder's exclusive lock refuses even a read of the file.
   */
  static check(dataDir: string): void {
    const file = resolve(dataDir, "node.lock");
    if (heldHere.has(file)) throw heldHereAlready(dataDir);
    if (!existsSync(file)) return; // no node ever ran here
    const db = new Database(file, { readonly: true, fileMustExist: true, timeout: 0 });
    try {
      db.prepare("SELECT count(*) FROM sqlite_master").get();
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (code === "SQLITE_BUSY") throw inUse(dataDir, file);
      if (code !== "SQLITE_NOTADB") throw error;
      refuseOlderHolder(dataDir, file); // an older Sala's pid file: acquire empties it once its node is gone
    } finally {
      db.close();
    }
  }

  /** Gives the folder back (a clean stop; the kernel does it for a process that dies). */
  release(): void {
    if (!this.db.open) return;
    this.db.close();
    heldHere.delete(this.file);
  }
}

function heldHereAlready(dataDir: string): DataDirInUseError {
  return new DataDirInUseError(`DATA_DIR ${dataDir} is in use by this process already`);
}

function inUse(dataDir: string, file: string): DataDirInUseError {
  const owner = readOwner(file + OWNER_SUFFIX);
  return new DataDirInUseError(`DATA_DIR ${dataDir} is in use by ${owner ?? "another process"}`, owner?.startsWith(RESTORE_HOLDER) ?? false);
}

/**
 * An older Sala's `node.lock` held the pid of its node as text: while that pid runs (and is not
 * this process: in a container every node is pid 1), the folder is that node's.
 */
function refuseOlderHolder(dataDir: string, file: string): void {
  const pid = Number.parseInt(readFileSync(file, "utf8"), 10);
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return;
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EPERM") return; // gone
  }
  throw new DataDirInUseError(`DATA_DIR ${dataDir} is in use by a Sala node of an earlier build (pid ${pid}, its node.lock)`);
}

/** Made for this user only when missing; an existing file is not opened (a descriptor closed here would drop a lock). */
function createPrivately(file: string): void {
  if (existsSync(file)) return;
  try {
    closeSync(openSync(file, "wx", 0o600));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
}

/**
 * A connection holding the file's exclusive lock until it closes. A file that is not SQLite is an
 * older Sala's `node.lock` (a pid in text): refused while that pid runs, else emptied, which makes
 * it an empty database, and locked.
 */
function lockedOrOlder(dataDir: string, file: string): SqliteDatabase {
  try {
    return locked(file);
  } catch (error) {
    if ((error as { code?: unknown }).code !== "SQLITE_NOTADB") throw error;
    refuseOlderHolder(dataDir, file);
    truncateSync(file); // no one holds a lock on a file that is not SQLite
    return locked(file);
  }
}

function locked(file: string): SqliteDatabase {
  const db = new Database(file, { timeout: WAIT_MS });
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

/** Written whole or not at all: a refused starter reading it never sees it half-written. */
function writeAtOnce(file: string, text: string): void {
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, text, { mode: 0o600 });
  renameSync(temporary, file);
}

function readOwner(file: string): string | null {
  try {
    return readFileSync(file, "utf8").trim().slice(0, 200) || null;
  } catch {
    return null;
  }
}
