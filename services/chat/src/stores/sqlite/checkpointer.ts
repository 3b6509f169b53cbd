import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import type { EventLog } from "./thread/wire.js";
import type { SqliteDatabase } from "./database.js";

/**
 * The thread: its own connection to the node's file, checkpointing every `everyMs`. PASSIVE: as
 * much of the log as no reader still needs, without waiting on the writer; RESTART past
 * `restartBytes` (RESTART_BYTES below). Source text (CommonJS, `eval`)
 * rather than a file of its own, so it runs the same from dist/ and from the tests' TypeScript;
 * better-sqlite3 is required by the path this module resolves.
 */
const THREAD = `
const { statSync } = require("node:fs");
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.sqlite);
const db = new Database(workerData.file);
db.pragma("busy_timeout = 1000");
const timer = setInterval(() => {
  try {
    db.pragma("wal_checkpoint(PASSIVE)");
    if (statSync(workerData.file + "-wal").size > workerData.restartBytes) {
      // Hardly waiting: a RESTART holds the write lock while it waits for readers, so a long reader
      // of the file (a backup, a sqlite3 shell) would stop the node's commits as long as it waited.
      // 20 ms lets the node's own short reads end; a longer one makes it try again next tick.
      db.pragma("busy_timeout = 20");
      try {
        db.pragma("wal_checkpoint(RESTART)");
      } finally {
        db.pragma("busy_timeout = 1000");
      }
    }
  } catch (error) {
    parentPort.postMessage({ failed: error.message });
  }
}, workerData.everyMs);
parentPort.on("message", (message) => {
  if (message !== "stop") return;
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

/** How often the log is checkpointed: about 1 MB of messages at a few thousand a second. */
const EVERY_MS = 1000;
/**
 * A PASSIVE checkpoint copies the log's pages but cannot make the log start over while commits
 * keep coming (the bench grew it to 396 MB in three minutes): past this size the thread asks for a
 * RESTART, which waits for the commit in progress and holds the next one for the little the PASSIVE
 * left to copy and one fsync; the next commit then writes the log from its start, and
 * journal_size_limit cuts the file back to this size.
 */
const RESTART_BYTES = 64 * 1024 * 1024;
/** SQLite's own default, restored if the checkpointer's thread is lost. */
const AUTOCHECKPOINT_PAGES = 1000;

/**
 * Checkpoints the node's WAL from a worker thread. SQLite's automatic checkpoint runs inside the
 * commit that fills the log past 1,000 pages: it writes those pages back and fsyncs the file, on
 * the event loop — the bench saw commits of 5–52 ms about every 260 messages (docs/BENCHMARKS.md,
 * session 15). Here commits only append to the log (no fsync at synchronous = NORMAL). Should the
 * thread die, the automatic checkpoint comes back, so the log never grows without bound.
 */
export class WalCheckpointer {
  private readonly worker: Worker;
  private stopping = false;

  constructor(db: SqliteDatabase, file: string, logger: EventLog, { restartBytes = RESTART_BYTES, everyMs = EVERY_MS } = {}) {
    db.pragma("wal_autocheckpoint = 0");
    db.pragma(`journal_size_limit = ${restartBytes}`);
    const sqlite = createRequire(import.meta.url).resolve("better-sqlite3");
    this.worker = new Worker(THREAD, { eval: true, workerData: { file, everyMs, restartBytes, sqlite } });
    this.worker.unref();
    this.worker.on("message", (message: { failed?: string }) => {
      if (message.failed) logger.warn({ event: "wal_checkpoint_failed", err: message.failed }, "could not checkpoint the SQLite log (retried)");
    });
    const lost = (why: string) => {
      if (this.stopping || !db.open) return;
      this.stopping = true;
      db.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`);
      logger.error({ event: "wal_checkpointer_lost", err: why }, "the SQLite checkpointer thread stopped: commits checkpoint again");
    };
    this.worker.on("error", (error) => lost(error.message));
    this.worker.on("exit", (code) => lost(`exit ${code}`));
  }

  /** Stops the thread (and its connection) before the node closes the file. */
  async stop(): Promise<void> {
    this.stopping = true;
    const exited = new Promise((resolve) => this.worker.once("exit", resolve));
    // Waited for, so it holds the process up meanwhile (unref'd, a caller with nothing else
    // running would see its process end before this resolves).
    this.worker.ref();
    this.worker.postMessage("stop");
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
    await this.worker.terminate();
  }
}
