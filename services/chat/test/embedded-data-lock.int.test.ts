/**
 * One node per DATA_DIR: a second embedded node on the folder of a running one refuses to start,
 * saying why; after the first dies (SIGKILL: its lock left behind) a new node takes the folder over.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
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

describe("DATA_DIR", () => {
  it("serves one node at a time, and is taken over from a node that died", async () => {
    const first = await startChildNode("lock-1", null, "unused", env);
    nodes.push(first);
    expect(readFileSync(join(dataDir, "node.lock"), "utf8").trim()).toBe(String(first.process.pid));

    const second = spawnSync(process.execPath, [SERVER], { env: { PATH: process.env.PATH, ...testNodeEnv("lock-2", null, "unused", env) }, encoding: "utf8", timeout: 20_000 });
    expect(second.status).toBe(1);
    expect(second.stderr).toContain(`DATA_DIR ${dataDir} is in use by another Sala node (pid ${first.process.pid})`);

    await first.kill("SIGKILL");
    expect(existsSync(join(dataDir, "node.lock"))).toBe(true); // nothing cleaned up
    const third = await startChildNode("lock-3", null, "unused", env);
    nodes.push(third);
    expect(readFileSync(join(dataDir, "node.lock"), "utf8").trim()).toBe(String(third.process.pid));
    await third.kill("SIGTERM");
    const fourth = await startChildNode("lock-4", null, "unused", env); // after a clean stop too
    nodes.push(fourth);
    expect(readFileSync(join(dataDir, "node.lock"), "utf8").trim()).toBe(String(fourth.process.pid));
  }, 60_000);
});
