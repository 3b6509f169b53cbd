/**
 * The login and registration throttles on the embedded node's SQLite file: counts as in memory
 * and Redis, kept across a restart, and the expired ones swept a chunk at a time by their index.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { throttleFactory, ThrottleSweeper } from "../src/auth/throttle.js";
import { openDatabase, type SqliteDatabase } from "../src/stores/sqlite/database.js";

let dir: string;
const handles: SqliteDatabase[] = [];
const open = () => {
  const db = openDatabase(join(dir, "sala.sqlite"));
  handles.push(db);
  return db;
};
const rows = (db: SqliteDatabase) => (db.prepare("SELECT COUNT(*) AS n FROM rate_limits").get() as { n: number }).n;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "sala-throttle-"));
});
afterEach(() => {
  for (const db of handles.splice(0)) if (db.open) db.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("throttles on SQLite", () => {
  it("count attempts in their window, give one back, and keep the counts across a restart", async () => {
    let db = open();
    let logins = throttleFactory({ sqlite: db }, (name) => `sala:rl:${name}`)("login", 3, 900);
    expect(await logins.attempt("ana|127.0.0.1")).toEqual({ wait: 0, count: 1 });
    expect(await logins.attempt("ana|127.0.0.1")).toEqual({ wait: 0, count: 2 });
    await logins.refund("ana|127.0.0.1");
    expect(await logins.attempt("ana|127.0.0.1")).toEqual({ wait: 0, count: 2 });
    expect(await logins.attempt("ana|127.0.0.1")).toEqual({ wait: 0, count: 3 });
    db.close();
    db = open();
    logins = throttleFactory({ sqlite: db }, (name) => `sala:rl:${name}`)("login", 3, 900);
    const refused = await logins.attempt("ana|127.0.0.1");
    expect(refused.count).toBe(4);
    expect(refused.wait).toBeGreaterThan(890_000);
    await logins.reset("ana|127.0.0.1");
    expect(await logins.attempt("ana|127.0.0.1")).toEqual({ wait: 0, count: 1 });
  });

  it("sweeps the expired counts only, a chunk per turn of the event loop", async () => {
    const db = open();
    const now = Date.now();
    const insert = db.prepare("INSERT INTO rate_limits (key, points, expire) VALUES (?, 1, ?)");
    db.transaction(() => {
      for (let i = 0; i < 1200; i++) insert.run(`old${i}`, now - 1000 - i);
      for (let i = 0; i < 10; i++) insert.run(`live${i}`, now + 60_000);
      insert.run("forever", null);
    })();
    const errors: unknown[] = [];
    const sweeper = new ThrottleSweeper(db, (error) => errors.push(error), 60_000);
    const late = new ThrottleSweeper(db, (error) => errors.push(error), 60_000);
    let turns = 0;
    const ticking = setInterval(() => turns++, 0);
    await sweeper.sweep(now);
    clearInterval(ticking);
    sweeper.stop();
    expect(rows(db)).toBe(11);
    expect(turns).toBeGreaterThan(0); // 3 chunks of at most 500, the timers' turn between them
    expect(errors).toEqual([]);
    db.close();
    await late.sweep(now); // the file closed under it: reported, not thrown
    late.stop();
    expect(errors).toHaveLength(1);
  });
});
