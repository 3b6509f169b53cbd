/**
 * `sala-admin restore FILE [--force] [--dry-run]` on the embedded node's SQLite store: puts a file
 * made by `backup` (sqlite-backup.ts) in place of DATA_DIR/sala.sqlite, with the node stopped.
 *
 * 1. The backup is checked whole first (a SQLite file, sound by quick_check, Sala's tables at this
 *    Sala's schema version): a truncated, damaged or foreign file — a Redis backup among them — is
 *    refused and DATA_DIR is unchanged.
 * 2. It refuses while a node runs on DATA_DIR: one answers on the admin socket (PORT or
 *    ADMIN_SOCKET), or — whatever its socket — DATA_DIR's lock is held (stores/sqlite/data-lock.ts),
 *    or the file cannot be locked exclusively (another process has it open: sqlite-file.ts
 *    lockExclusively). `--force` does not override this. DATA_DIR's lock is then held until the
 *    restore ends, so that no node starts on the folder meanwhile (one that tries is refused).
 * 3. When the current file holds data (accounts, rooms, conversations) or cannot be read, it
 *    refuses without `--force`; with it, the current file is not deleted but kept aside, with its
 *    -wal and -shm, as `sala.sqlite.before-restore-<time>` (its WAL folded in first, so the kept
 *    file is whole on its own). `--dry-run` checks all this and writes nothing.
 * 4. The backup is copied into DATA_DIR with SQLite's online backup (a raw copy of a node's file in
 *    WAL mode is read with its WAL too), checked again, given an audit entry, flushed, and renamed
 *    to sala.sqlite: the node finds the old file or the new one, never half of one.
 */
import { constants } from "node:fs";
import { access, chmod, lstat, mkdir, open, rename, rm, stat } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import Database from "better-sqlite3";
import type { Logger } from "../logger.js";
import { SqliteAuditStore } from "../stores/sqlite/audit.js";
import { DataDirInUseError, DataDirLock, RESTORE_HOLDER } from "../stores/sqlite/data-lock.js";
import type { SqliteDatabase } from "../stores/sqlite/database.js";
import { recordAudit } from "./audit.js";
import { AdminError } from "./admin-error.js";
import type { RestoreOptions } from "./backup-args.js";
import { syncDirectory } from "./backup-format.js";
import { isLive } from "./control-socket.js";
import type { SqliteStore } from "./sqlite-backup.js";
import {
  checkIntegrity,
  checkSalaFile,
  countContents,
  fileDigest,
  fileKind,
  formatContents,
  holdsData,
  lockExclusively,
  nameWithoutOverwrite,
  SIDE_FILES,
  syncFile,
  type SalaContents,
} from "./sqlite-file.js";

export interface SqliteRestoreRun {
  store: SqliteStore;
  /** The embedded node's admin socket: a node answering there is running. */
  adminSocket: string;
  options: RestoreOptions;
  logger: Logger;
  actor: string;
}

const exists = (path: string) => lstat(path).then(() => true, () => false);

/** Opens `path` read-only and runs `check` on it, closing it after; a file SQLite cannot read is the operator's message. */
function inspect<T>(path: string, what: string, check: (db: SqliteDatabase) => T): T {
  let db: SqliteDatabase;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
  } catch (error) {
    throw new AdminError(`cannot open ${what}: ${(error as Error).message}`);
  }
  try {
    return check(db);
  } catch (error) {
    if (error instanceof AdminError) throw error;
    throw new AdminError(`${what} cannot be read as a SQLite database: ${(error as Error).message}`);
  } finally {
    db.close();
  }
}

/** The backup, checked whole; nothing is written yet. */
async function checkBackup(file: string): Promise<{ schema: number; contents: SalaContents; sha256: string }> {
  let kind;
  try {
    kind = await fileKind(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") throw new AdminError(`${file}: no such file; nothing restored`);
    throw new AdminError(`cannot read ${file}: ${(error as Error).message}; nothing restored`);
  }
  if (kind === "gzip") {
    throw new AdminError(
      `${file} is gzip, not SQLite: a backup of a Redis store (restore it with REDIS_URL or REDIS_CLUSTER_NODES set); the SQLite store restores the file its own backup wrote; nothing restored`,
    );
  }
  if (kind === "other") throw new AdminError(`${file} is not a SQLite database (nor a Sala backup): nothing restored`);
  const { sha256 } = await fileDigest(file);
  try {
    return {
      ...inspect(file, file, (db) => {
        checkIntegrity(db, file);
        return { schema: checkSalaFile(db, file), contents: countContents(db) };
      }),
      sha256,
    };
  } catch (error) {
    throw new AdminError(`${(error as Error).message}; nothing restored`);
  }
}

/** DATA_DIR as a directory this user may write in; created (as the node would) when missing, unless it is a dry run. */
async function prepareDataDir(dataDir: string, dryRun: boolean): Promise<"exists" | "created" | "missing"> {
  try {
    if (!(await stat(dataDir)).isDirectory()) throw new AdminError(`DATA_DIR ${dataDir} is not a directory; nothing restored`);
    await access(dataDir, constants.R_OK | constants.W_OK | constants.X_OK);
    return "exists";
  } catch (error) {
    if (error instanceof AdminError) throw error;
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") {
      throw new AdminError(`cannot write in DATA_DIR ${dataDir}: ${(error as Error).message} (run the command as the node's OS user); nothing restored`);
    }
  }
  if (dryRun) return "missing";
  try {
    // As the node makes it: for its OS user only.
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new AdminError(`cannot create DATA_DIR ${dataDir}: ${(error as Error).message}; nothing restored`);
  }
  return "created";
}

/** What the current file holds, or why it cannot be read (a damaged file is what a restore is often for). */
function currentContents(db: SqliteDatabase): SalaContents | string {
  try {
    checkSalaFile(db, "it");
    return countContents(db);
  } catch (error) {
    return (error as Error).message;
  }
}

/** Copies the checked backup to `temporary` in DATA_DIR (SQLite's backup API), checks it again and writes the audit entry into it. */
async function stage(run: SqliteRestoreRun, file: string, temporary: string, expected: SalaContents, sha256: string): Promise<void> {
  for (const suffix of ["", "-journal", ...SIDE_FILES]) await rm(`${temporary}${suffix}`, { force: true });
  // Made empty first, for the node's OS user only: SQLite writes the copy into it, keeping its mode
  // (and gives its journal the same): password hashes and room keys are never readable by others.
  await (await open(temporary, "wx", 0o600)).close();
  await chmod(temporary, 0o600);
  const source = new Database(file, { readonly: true, fileMustExist: true });
  try {
    // All pages in one step: one read of the backup, as it was checked.
    await source.backup(temporary, { progress: () => 0x7fffffff });
  } finally {
    source.close();
  }
  const what = `the copy ${temporary}`;
  const counts = formatContents(expected);
  const copy = new Database(temporary, { fileMustExist: true });
  try {
    // One self-contained file until the node turns WAL on as it opens it.
    copy.pragma("journal_mode = DELETE");
    checkIntegrity(copy, what);
    checkSalaFile(copy, what);
    const copied = formatContents(countContents(copy));
    if (copied !== counts) throw new AdminError(`${file} changed while it was restored (checked: ${counts}; copied: ${copied}): run the restore again`);
    // The restore's entry on top of the backup's own audit trail, as on Redis.
    const entry = { ts: Date.now(), actor: run.actor, action: "restore", target: file, outcome: `${counts}; sha256 ${sha256}` };
    await recordAudit(new SqliteAuditStore(copy), run.logger, entry);
  } finally {
    copy.close();
  }
  await syncFile(temporary);
}

/** A name for the current file's set that no file has yet: `sala.sqlite.before-restore-2026-01-02T03-04-05.678Z`. */
async function asideName(target: string): Promise<string> {
  const stamp = new Date().toISOString().replace(/:/g, "-");
  for (let n = 0; ; n++) {
    const name = `${target}.before-restore-${stamp}${n > 0 ? `-${n}` : ""}`;
    const taken = await Promise.all(["", ...SIDE_FILES].map((suffix) => exists(`${name}${suffix}`)));
    if (!taken.some(Boolean)) return name;
  }
}

export async function restoreSqlite(run: SqliteRestoreRun): Promise<string> {
  const { store, options } = run;
  const file = resolve(options.file);
  const target = store.file;
  const backup = await checkBackup(file);
  const lines = [
    `${file}: a Sala SQLite file at schema version ${backup.schema}, sound (quick_check): ${formatContents(backup.contents)}`,
    `sha256 ${backup.sha256}`,
  ];
  if (backup.contents.sessions > 0) lines.push(`note: it holds ${backup.contents.sessions} session(s) (not a file of sala-admin backup): they are restored with it`);

  if (await isLive(run.adminSocket)) {
    throw new AdminError(`a node answers on the admin socket ${run.adminSocket}: stop it first (SIGTERM); --force does not override this; nothing restored`);
  }
  const dataDir = await prepareDataDir(store.dataDir, options.dryRun);
  // DATA_DIR is the restore's until it is done: a node starting meanwhile is refused rather than
  // opening the file about to be set aside.
  let dirLock: DataDirLock | null = null;
  // The current file, locked until the swap (or until the refusal).
  let lock: SqliteDatabase | null = null;
  let aside: string | null = null;
  try {
    dirLock = holdDataDir(store.dataDir, dataDir, options.dryRun);
    const leftovers = await Promise.all(SIDE_FILES.map((suffix) => exists(`${target}${suffix}`)));
    if (await exists(target)) {
      let locked: SqliteDatabase | "busy" | null = null;
      let unreadable: string | null = null;
      try {
        locked = lockExclusively(target);
      } catch (error) {
        unreadable = (error as Error).message;
      }
      if (locked === "busy") {
        throw new AdminError(`${target} is in use by another process (a node running with this DATA_DIR?): stop it first (SIGTERM); --force does not override this; nothing restored`);
      }
      lock = locked;
      const current = lock ? currentContents(lock) : unreadable!;
      const described = typeof current === "string" ? `cannot be read (${current})` : `holds ${formatContents(current, true)}`;
      if ((typeof current === "string" || holdsData(current)) && !options.force) {
        throw new AdminError(`${target} ${described}: nothing restored; --force keeps it aside (${basename(target)}.before-restore-<time>) and restores`);
      }
      aside = await asideName(target);
      lines.push(`current ${target} ${described}: ${options.dryRun ? "would be kept" : "kept"} as ${aside}`);
    } else if (leftovers.some(Boolean)) {
      // A -wal without its database must not meet the restored file: SQLite would replay it on it.
      aside = await asideName(target);
      lines.push(`no ${basename(target)} in DATA_DIR, but its -wal/-shm: ${options.dryRun ? "would be kept" : "kept"} as ${aside}-wal/-shm`);
    } else {
      lines.push(dataDir === "missing" ? `DATA_DIR ${store.dataDir} does not exist: would be created` : `no ${basename(target)} in DATA_DIR ${store.dataDir} yet`);
    }
    if (options.dryRun) return [...lines, `dry run: nothing written to DATA_DIR ${store.dataDir}`].join("\n");

    const started = Date.now();
    const temporary = join(store.dataDir, `${basename(target)}.restoring`);
    try {
      await stage(run, file, temporary, backup.contents, backup.sha256);
    } catch (error) {
      for (const suffix of ["", "-journal", ...SIDE_FILES]) await rm(`${temporary}${suffix}`, { force: true });
      throw error instanceof AdminError ? error : new AdminError(`restore failed, DATA_DIR unchanged: ${(error as Error).message}`);
    }

    // The swap. The current file's WAL is folded in, so that the kept file is whole without it.
    if (lock) {
      lock.pragma("wal_checkpoint(TRUNCATE)");
      lock.close();
      lock = null;
    }
    if (aside) {
      for (const suffix of ["", ...SIDE_FILES]) {
        if (await exists(`${target}${suffix}`)) await rename(`${target}${suffix}`, `${aside}${suffix}`);
      }
    }
    try {
      // Never over a file a node would just have made.
      await nameWithoutOverwrite(temporary, target);
    } catch (error) {
      throw new AdminError(`cannot put the restored file in place (${(error as Error).message}): it is ready as ${temporary}${aside ? `; the previous file is ${aside}` : ""}`);
    }
    await syncDirectory(store.dataDir);
    run.logger.info({ event: "restore_written", store: "sqlite", file, target, aside, ms: Date.now() - started, ...backup.contents }, "restore: file in place");
    lines.push(
      `restored ${target} in ${Date.now() - started} ms: ${formatContents(backup.contents)}`,
      `done: start the node with DATA_DIR=${store.dataDir} (STORE=sqlite, the default without Redis); sessions are not in a backup: everyone logs in again`,
    );
    return lines.join("\n");
  } finally {
    lock?.close();
    dirLock?.release();
  }
}

/**
 * DATA_DIR's lock (stores/sqlite/data-lock.ts), taken as a node takes it; a dry run only checks
 * that no one holds it. Refused while a node runs on the folder, whatever its admin socket.
 */
function holdDataDir(dataDir: string, state: "exists" | "created" | "missing", dryRun: boolean): DataDirLock | null {
  try {
    if (state === "missing") return null;
    if (dryRun) {
      DataDirLock.check(dataDir);
      return null;
    }
    return DataDirLock.acquire(dataDir, RESTORE_HOLDER);
  } catch (error) {
    if (error instanceof DataDirInUseError) {
      const advice = error.byRestore ? "wait until it has printed done" : "stop it first (SIGTERM)";
      throw new AdminError(`${error.message}: ${advice}; --force does not override this; nothing restored`);
    }
    throw new AdminError(`cannot lock DATA_DIR ${dataDir}: ${(error as Error).message}; nothing restored`);
  }
}
