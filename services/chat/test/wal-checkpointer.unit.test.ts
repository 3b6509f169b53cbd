/**
 * The embedded node's WAL is checkpointed by a thread of its own, not inside a commit on the event
 * loop: the node's connection never checkpoints (wal_autocheckpoint 0), yet the log's pages reach
 * the database file within a couple of seconds.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import pino from "pino";
import { afterEach, expect, it } from "vitest";
import { WalCheckpointer } from "../src/stores/sqlite/checkpointer.js";
import { openDatabase, writeTransaction } from "../src/stores/sqlite/database.js";

const dir = mkdtempSync(join(tmpdir(), "sala-wal-"));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

it("moves the log into the database file from its thread, and stops with the node", async () => {
  const file = join(dir, "sala.sqlite");
  const db = openDatabase(file);
  const checkpointer = new WalCheckpointer(db, file, pino({ level: "silent" }));
  expect(db.pragma("wal_autocheckpoint", { simple: true })).toBe(0);
  const before = statSync(file).size;
  const insert = db.prepare("INSERT INTO audit_log (ts, actor, action, target, outcome) VALUES (?, 'ana', 'test', 'bia', ?)");
  for (let i = 0; i < 40; i++) db.transaction(() => { for (let j = 0; j < 50; j++) insert.run(i * 50 + j, "x".repeat(1000)); })();
  expect(statSync(`${file}-wal`).size).toBeGreaterThan(2_000_000); // the commits wrote only the log
  await expect.poll(() => statSync(file).size, { timeout: 5000, interval: 100 }).toBeGreaterThan(before + 1_500_000);
  await checkpointer.stop();
  db.close();
});

it("makes the log start over once past its size limit, though commits never stop", async () => {
  const file = join(dir, "busy.sqlite");
  const db = openDatabase(file);
  const warnings: string[] = [];
  const logger = pino({ level: "warn" }, { write: (line: string) => warnings.push(line) });
  // Ticks every 100 ms rather than 1 s, so a loaded machine still gives it many tries in the time.
  const checkpointer = new WalCheckpointer(db, file, logger, { restartBytes: 1_000_000, everyMs: 100 });
  const insert = db.prepare("INSERT INTO audit_log (ts, actor, action, target, outcome) VALUES (?, 'ana', 'test', 'bia', ?)");
  const entries = db.prepare("SELECT COUNT(*) FROM audit_log").pluck();
  // Read, then write, as the stores' transactions do: begun deferred, one would meet the RESTART
  // waiting for it to finish reading, and fail SQLITE_BUSY at once (writeTransaction).
  const append = writeTransaction(db, (i: number) => {
    entries.get();
    insert.run(i, "x".repeat(2000));
  });
  // A commit every turn of the event loop, with no pause: without the RESTART the log only grows.
  // It runs until the log has started over twice (or 20 s: then the assertions below say why).
  const sizes: number[] = [];
  const failures: string[] = [];
  const cutBack = () => sizes.filter((size, i) => i > 0 && size < sizes[i - 1]!);
  const end = Date.now() + 20_000;
  for (let i = 0; Date.now() < end && cutBack().length < 2; i++) {
    try {
      append(i);
    } catch (error) {
      failures.push((error as Error).message);
    }
    sizes.push(statSync(`${file}-wal`).size);
    await new Promise((resolve) => setImmediate(resolve));
  }
  expect(failures).toEqual([]);
  // A log file shrinks only when it starts over (cut back to journal_size_limit): it did, twice.
  expect(cutBack().length, `largest log ${Math.max(...sizes)} bytes; checkpointer said: ${warnings.join("")}`).toBe(2);
  expect(Math.min(...cutBack())).toBeLessThanOrEqual(1_000_000);
  await checkpointer.stop();
  db.close();
});

it("holds up a process that has nothing else to do until it has stopped", { timeout: 60_000 }, async () => {
  // Its thread is unref'd (it never keeps a node up by itself): a stop awaited with nothing else
  // running once saw the process end first, the code after the stop never run.
  const module = (path: string) => JSON.stringify(new URL(path, import.meta.url).href);
  const script = `
    import { WalCheckpointer } from ${module("../src/stores/sqlite/checkpointer.ts")};
    import { openDatabase } from ${module("../src/stores/sqlite/database.ts")};
    const file = ${JSON.stringify(join(dir, "alone.sqlite"))};
    const db = openDatabase(file);
    await new WalCheckpointer(db, file, { warn() {}, error() {} }).stop();
    db.close();
    console.log("stopped");`;
  // From the repository's root, where --import finds tsx.
  const root = fileURLToPath(new URL("../../../", import.meta.url));
  const run = await promisify(execFile)(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { cwd: root, encoding: "utf8", timeout: 50_000 });
  expect(run.stderr).toBe("");
  expect(run.stdout.trim()).toBe("stopped");
});
