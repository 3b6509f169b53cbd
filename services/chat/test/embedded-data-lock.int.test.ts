/**
 * One process per DATA_DIR: a second embedded node on the folder of a running one refuses to start,
 * saying why, and so does a node while sala-admin's restore holds the folder; after the first dies
 * (SIGKILL: nothing cleaned up) a new node takes the folder, as after a clean stop.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { DataDirLock } from "../src/stores/sqlite/data-lock.js";
import { startChildNode, type ChildNode } from "./support/child-node.js";
import { testNodeEnv } from "./support/cluster.js";

const SERVER = fileURLToPath(new URL("../dist/server.js", import.meta.url));
const dataDir = mkdtempSync(join(tmpdir(), "sala-lock-"));
const env = { STORE: "sqlite", DATA_DIR: dataDir };
const nodes: ChildNode[] = [];

afterAll(async () => {
  for (const node of nodes) await node.kill();
  rmSync(dataDir, { recursive: true, force: true });
});

/** Starts a node on DATA_DIR that is expected to refuse: its exit code and what it printed. */
const refusedStart = (id: string) => spawnSync(process.execPath, [SERVER], { env: { PATH: process.env.PATH, ...testNodeEnv(id, null, "unused", env) }, encoding: "utf8", timeout: 20_000 });
const owner = () => readFileSync(join(dataDir, "node.lock.owner"), "utf8").trim();

describe("DATA_DIR", () => {
  it("serves one node at a time, and is taken from a node that died", async () => {
    // An older Sala's lock file (its pid, as text) is taken over.
    writeFileSync(join(dataDir, "node.lock"), "4242\n");
    const first = await startChildNode("lock-1", null, "unused", env);
    nodes.push(first);
    expect(owner()).toBe(`a Sala node (pid ${first.process.pid})`);
    expect(statSync(join(dataDir, "node.lock")).size).toBe(0);

    const second = refusedStart("lock-2");
    expect(second.status).toBe(1);
    expect(second.stderr).toContain(`DATA_DIR ${dataDir} is in use by a Sala node (pid ${first.process.pid})`);

    await first.kill("SIGKILL"); // the kernel drops its lock; its owner file stays
    const third = await startChildNode("lock-3", null, "unused", env);
    nodes.push(third);
    expect(owner()).toBe(`a Sala node (pid ${third.process.pid})`);
    await third.kill("SIGTERM");
    const fourth = await startChildNode("lock-4", null, "unused", env); // after a clean stop too
    nodes.push(fourth);
    expect(owner()).toBe(`a Sala node (pid ${fourth.process.pid})`);
    await fourth.kill("SIGTERM");
  }, 60_000);

  it("is not started on while sala-admin's restore holds it", async () => {
    const restore = DataDirLock.acquire(dataDir, "sala-admin restore");
    try {
      // A second take in this process is refused without dropping the kernel's lock (closing any
      // descriptor of the file here would): the node below is still turned away.
      expect(() => DataDirLock.acquire(dataDir, "sala-admin restore")).toThrow("in use by this process already");
      expect(() => DataDirLock.check(dataDir)).toThrow("in use by this process already");
      const refused = refusedStart("lock-5");
      expect(refused.status).toBe(1);
      expect(refused.stderr).toContain(`DATA_DIR ${dataDir} is in use by sala-admin restore (pid ${process.pid}): a restore is putting a file in place`);
    } finally {
      restore.release();
    }
    const after = await startChildNode("lock-6", null, "unused", env);
    nodes.push(after);
    expect(owner()).toBe(`a Sala node (pid ${after.process.pid})`);
  }, 60_000);
});
