/**
 * `sala-admin backup FILE` on the embedded node's SQLite store (STORE=sqlite, the default without
 * Redis): a copy of DATA_DIR/sala.sqlite made with SQLite's online backup, consistent at one
 * instant while the node runs and writes, and equally with the node stopped.
 *
 * The CLI opens the file itself rather than asking the node over its admin socket:
 * - it works whether the node runs or not (a backup of a stopped node's DATA_DIR is the common
 *   case before an upgrade or a move), with no request the node must serve;
 * - WAL lets a second process read while the node writes: the copy is one read transaction on the
 *   CLI's own connection (below), so the node's writes never wait for it and its event loop never
 *   runs a step of it;
 * - the file goes where the operator's shell says, written by the operator's user, never by the
 *   node's process from a path it would have to be sent.
 * Its one write to the node's file is the audit entry, a one-row transaction that SQLite's locks
 * order with the node's (both wait up to the busy timeout).
 *
 * The copy then leaves out the login sessions, their per-user index and the throttles' counts, as
 * the Redis backup does (everyone logs in again after a restore), is rewritten by VACUUM (so that
 * neither those rows nor anything deleted before the backup lingers in free pages: the file goes
 * off-site), put in rollback-journal mode (one self-contained file that `sqlite3 FILE` opens; the
 * node turns WAL back on when it starts on it), checked, flushed, and only then given its name —
 * never over an existing file (sqlite-file.ts nameWithoutOverwrite).
 */
import { constants } from "node:fs";
import { access, lstat, open, rm, stat } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import Database from "better-sqlite3";
import type { EmbeddedStore } from "../config.js";
import type { Logger } from "../logger.js";
import { SqliteAuditStore } from "../stores/sqlite/audit.js";
import type { SqliteDatabase } from "../stores/sqlite/database.js";
import { recordAudit } from "./audit.js";
import { AdminError } from "./admin-error.js";
import { syncDirectory } from "./backup-format.js";
import { checkIntegrity, checkSalaFile, countContents, fileDigest, formatContents, LIVE_TABLES, nameWithoutOverwrite, syncFile, tableNames } from "./sqlite-file.js";

export type SqliteStore = Extract<EmbeddedStore, { kind: "sqlite" }>;

export interface SqliteBackupRun {
  store: SqliteStore;
  file: string;
  logger: Logger;
  actor: string;
}

/** Pages per step of the copy: all of them, so the copy is one read transaction — one instant — and a write by the node between steps cannot restart it. */
const ALL_PAGES = 0x7fffffff;

/** How long the CLI's connection waits for the node's write lock (its audit entry). */
const BUSY_TIMEOUT_MS = 5000;

/** DATA_DIR and its sala.sqlite, readable; otherwise what the operator should check. */
export async function checkDataDir(store: SqliteStore): Promise<void> {
  const hint = `(is DATA_DIR the node's? A relative one is taken from the directory the command runs in, here ${process.cwd()})`;
  try {
    if (!(await stat(store.dataDir)).isDirectory()) throw new AdminError(`DATA_DIR ${store.dataDir} is not a directory ${hint}`);
    await access(store.dataDir, constants.R_OK | constants.X_OK);
  } catch (error) {
    if (error instanceof AdminError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new AdminError(`DATA_DIR ${store.dataDir} does not exist: nothing to back up ${hint}`);
    throw new AdminError(`cannot read DATA_DIR ${store.dataDir}: ${(error as Error).message} (run the command as the node's OS user)`);
  }
  try {
    await access(store.file, constants.R_OK | constants.W_OK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new AdminError(`no sala.sqlite in DATA_DIR ${store.dataDir}: has a node ever started with this DATA_DIR (and STORE=sqlite)?`);
    throw new AdminError(`cannot open ${store.file}: ${(error as Error).message} (run the command as the node's OS user)`);
  }
}

/** Empties the tables a backup leaves out; returns how many sessions there were. */
function leaveOutLiveRows(copy: SqliteDatabase): number {
  const present = new Set(tableNames(copy));
  let sessions = 0;
  copy.transaction(() => {
    for (const table of LIVE_TABLES) {
      if (!present.has(table)) continue; // a file made before the table was in the schema
      const { changes } = copy.prepare(`DELETE FROM ${table}`).run();
      if (table === "sessions") sessions = changes;
    }
  })();
  return sessions;
}

export async function backupSqlite(run: SqliteBackupRun): Promise<string> {
  const { store, logger } = run;
  const file = resolve(run.file);
  await checkDataDir(store);
  // Never over an existing file (checked again, atomically, when it is named: link below).
  if (await lstat(file).then(() => true, () => false)) throw new AdminError(`${file} already exists: a backup never overwrites a file; name a new one`);

  const temporary = `${file}.tmp`;
  try {
    // A leftover of a run cut short goes; then created afresh, never through a link planted there.
    await rm(temporary, { force: true });
    await rm(`${temporary}-journal`, { force: true });
    const handle = await open(temporary, "wx", 0o600);
    // Exactly 0600, whatever the umask: the file holds password hashes and room keys.
    await handle.chmod(0o600);
    await handle.close();
  } catch (error) {
    throw new AdminError(`cannot write ${temporary}: ${(error as Error).message}`);
  }

  let source: SqliteDatabase | undefined;
  let named = false;
  try {
    try {
      source = new Database(store.file, { fileMustExist: true, timeout: BUSY_TIMEOUT_MS });
    } catch (error) {
      throw new AdminError(`cannot open ${store.file}: ${(error as Error).message}`);
    }
    const schema = checkSalaFile(source, store.file);
    const started = Date.now();
    await source.backup(temporary, { progress: () => ALL_PAGES });
    const copied = Date.now() - started;

    const copy = new Database(temporary, { fileMustExist: true });
    let sessions: number;
    let contents;
    try {
      copy.pragma("journal_mode = DELETE");
      sessions = leaveOutLiveRows(copy);
      copy.exec("VACUUM");
      checkIntegrity(copy, `the copy ${temporary}`);
      checkSalaFile(copy, `the copy ${temporary}`);
      contents = countContents(copy);
    } finally {
      copy.close();
    }
    await syncFile(temporary);
    try {
      await nameWithoutOverwrite(temporary, file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EEXIST") throw new AdminError(`${file} appeared while the backup ran: left as it is; name a new file`);
      throw error;
    }
    named = true;
    await syncDirectory(dirname(file));
    const ms = Date.now() - started;
    const digest = await fileDigest(file);
    const counts = formatContents(contents);
    logger.info({ event: "backup_written", store: "sqlite", file, ms, copyMs: copied, bytes: digest.bytes, sha256: digest.sha256, ...contents }, "backup: file written");

    const lines = [
      `backup of the SQLite store ${store.file}: schema version ${schema}`,
      `wrote ${file} in ${ms} ms (the copy itself: ${copied} ms, one instant of the file): ${counts}`,
      `left out: sessions (${sessions}), rate limits; sessions are never backed up: everyone logs in again after a restore`,
      `file sha256 ${digest.sha256}, ${digest.bytes} bytes, mode 0600: it holds password hashes and room keys, keep it as secret as DATA_DIR itself`,
      `restore it with the node stopped: sala-admin restore ${file} (same DATA_DIR); it is a plain SQLite file (sqlite3 ${file} opens it)`,
    ];
    const entry = { ts: Date.now(), actor: run.actor, action: "backup", target: file, outcome: `${counts}; sha256 ${digest.sha256}` };
    try {
      await recordAudit(new SqliteAuditStore(source), logger, entry);
    } catch (error) {
      logger.warn({ event: "admin_audit_failed", err: (error as Error).message }, "backup: the audit entry was not written");
      lines.push(`warning: the audit entry was not written to the store: ${(error as Error).message}`);
    }
    return lines.join("\n");
  } catch (error) {
    if (!named) {
      await rm(temporary, { force: true });
      await rm(`${temporary}-journal`, { force: true });
    }
    const why = (error as Error).message;
    if (named) throw new AdminError(`${file} is written, but: ${why}`);
    if (error instanceof AdminError) throw error;
    throw new AdminError(`backup failed (${file} not written): ${why}`);
  } finally {
    source?.close();
  }
}
