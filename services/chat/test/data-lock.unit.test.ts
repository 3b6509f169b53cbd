/**
 * DATA_DIR's lock (stores/sqlite/data-lock.ts) within one process: held until released, refused
 * meanwhile with its holder named, and checked by a dry run without anything written. Across
 * processes, and after a SIGKILL: embedded-data-lock.int.test.ts.
 */
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
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
  it("is one holder's until released, the refusal naming the holder", () => {
    const dir = freshDir();
    const lock = DataDirLock.acquire(dir, "sala-admin restore");
    expect(() => DataDirLock.acquire(dir, "a Sala node")).toThrow(DataDirInUseError);
    expect(() => DataDirLock.acquire(dir, "a Sala node")).toThrow(`DATA_DIR ${dir} is in use by sala-admin restore (pid ${process.pid}): one node per DATA_DIR`);
    lock.release();
    lock.release(); // twice is once
    DataDirLock.acquire(dir, "a Sala node").release();
    expect(statSync(join(dir, "node.lock")).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, "node.lock.owner")).mode & 0o777).toBe(0o600);
  });

  it("takes over an older Sala's lock file (a pid in text), which holds nothing", () => {
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
    const lock = DataDirLock.acquire(dir, "a Sala node");
    const files = readdirSync(dir).sort();
    expect(() => DataDirLock.check(dir)).toThrow(`is in use by a Sala node (pid ${process.pid})`);
    lock.release();
    DataDirLock.check(dir);
    expect(readdirSync(dir).sort()).toEqual(files);
    DataDirLock.acquire(dir, "a Sala node").release(); // a check held nothing
  });
});
