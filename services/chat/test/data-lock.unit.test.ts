/**
 * DATA_DIR's lock (stores/sqlite/data-lock.ts) within one process: held until released (a second
 * take here refused without dropping it), and checked by a dry run without anything written. Across
 * processes, the holder named, and after a SIGKILL: embedded-data-lock.int.test.ts.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import Database from "better-sqlite3";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { DataDirInUseError, DataDirLock } from "../src/stores/sqlite/data-lock.js";

const dirs: string[] = [];
const freshDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "sala-data-lock-"));
  dirs.push(dir);
  return dir;
};

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe("DataDirLock", () => {
  it("is one holder's until released, a second take in the same process refused before it touches the file", () => {
    const dir = freshDir();
    const lock = DataDirLock.acquire(dir, "sala-admin restore");
    expect(() => DataDirLock.acquire(dir, "a Sala node")).toThrow(DataDirInUseError);
    expect(() => DataDirLock.acquire(dir, "a Sala node")).toThrow(`DATA_DIR ${dir} is in use by this process already`);
    expect(() => DataDirLock.check(dir)).toThrow(`DATA_DIR ${dir} is in use by this process already`);
    // Still held (the kernel's lock, across processes: embedded-data-lock.int.test.ts).
    const other = new Database(join(dir, "node.lock"), { readonly: true, timeout: 0 });
    expect(() => other.prepare("SELECT count(*) FROM sqlite_master").get()).toThrow(/locked/);
    other.close();
    expect(readFileSync(join(dir, "node.lock.owner"), "utf8")).toBe(`sala-admin restore (pid ${process.pid})\n`);
    lock.release();
    lock.release(); // twice is once
    DataDirLock.acquire(dir, "a Sala node").release();
    expect(statSync(join(dir, "node.lock")).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, "node.lock.owner")).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir).sort()).toEqual(["node.lock", "node.lock.owner"]);
  });

  it("refuses an older Sala's lock file (a pid in text) while its pid runs", () => {
    const dir = freshDir();
    writeFileSync(join(dir, "node.lock"), `${process.ppid}\n`); // alive, and another process
    const refusal = `DATA_DIR ${dir} is in use by a Sala node of an earlier build (pid ${process.ppid}, its node.lock)`;
    expect(() => DataDirLock.check(dir)).toThrow(refusal);
    expect(() => DataDirLock.acquire(dir, "a Sala node")).toThrow(refusal);
    expect(readFileSync(join(dir, "node.lock"), "utf8")).toBe(`${process.ppid}\n`); // untouched
    const gone = spawnSync(process.execPath, ["-e", ""]).pid;
    writeFileSync(join(dir, "node.lock"), `${gone}\n`);
    DataDirLock.acquire(dir, "a Sala node").release(); // its node is gone: taken over
  });

  it("takes over an older Sala's lock file (a pid in text) whose pid is this process's (a container's pid 1)", () => {
    const dir = freshDir();
    writeFileSync(join(dir, "node.lock"), `${process.pid}\n`);
    DataDirLock.check(dir); // not a lock any more: nothing refused
    const lock = DataDirLock.acquire(dir, "a Sala node");
    expect(statSync(join(dir, "node.lock")).size).toBe(0);
    expect(() => DataDirLock.acquire(dir, "a Sala node")).toThrow(DataDirInUseError);
    lock.release();
  });

  it("checks for a holder without taking the folder or writing in it", () => {
    const dir = freshDir();
    DataDirLock.check(dir); // never locked: no file
    expect(readdirSync(dir)).toEqual([]);
    DataDirLock.acquire(dir, "a Sala node").release();
    const files = readdirSync(dir).sort();
    DataDirLock.check(dir);
    expect(readdirSync(dir).sort()).toEqual(files);
    DataDirLock.acquire(dir, "a Sala node").release(); // a check held nothing
    // Refused by another process's lock: embedded-data-lock.int.test.ts, admin-sqlite.int.test.ts.
  });
});
