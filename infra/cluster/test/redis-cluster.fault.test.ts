/**
 * `npm run cluster -- --redis-cluster 3` as an operator runs it: the built CLI
 * (infra/cluster/dist/cli.js, which `npm run cluster` and `npm test` build first) starts a Redis
 * Cluster of 3 primaries + 3 replicas, two nodes and nginx; two users log in through nginx and chat
 * in a room with their sockets on different nodes (so every message crosses nodes through the
 * cluster's sharded pub/sub); SIGTERM to the CLI then leaves no process and no port behind.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { Cluster } from "ioredis";
import { decryptText, encryptText } from "@sala/protocol/envelope";
import { afterAll, describe, expect, it } from "vitest";
import { freePort } from "../src/processes.js";
import { alive, listening } from "./leftovers.js";
import { ask, connectClient, registerAndLogin, type TestClient } from "./clients.js";

const CLI = fileURLToPath(new URL("../dist/cli.js", import.meta.url));

/** Every process below `pid` (nodes, redis-servers, nginx and its worker), from ps. */
function descendants(pid: number): number[] {
  const result = spawnSync("ps", ["-e", "-o", "pid=,ppid="], { encoding: "utf8" });
  const pairs = result.stdout.trim().split("\n").map((line) => line.trim().split(/\s+/).map(Number) as [number, number]);
  const found: number[] = [];
  const walk = (parent: number) => {
    for (const [child, ppid] of pairs) {
      if (ppid !== parent) continue;
      found.push(child);
      walk(child);
    }
  };
  walk(pid);
  return found;
}

/** The CLI's console lines up to "Ctrl-C stops everything" (its nodes' JSON logs go elsewhere). */
function startupLines(child: ChildProcess, timeoutMs: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const lines: string[] = [];
    const timer = setTimeout(() => reject(new Error(`the CLI did not finish starting within ${timeoutMs} ms:\n${lines.join("\n")}`)), timeoutMs);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the CLI exited (code ${code}):\n${lines.join("\n")}`));
    });
    createInterface({ input: child.stdout! }).on("line", (line) => {
      if (!line.startsWith("cluster:")) return;
      lines.push(line);
      if (!line.includes("Ctrl-C stops everything")) return;
      clearTimeout(timer);
      resolve(lines);
    });
  });
}

describe("npm run cluster -- --redis-cluster 3", () => {
  let cli: ChildProcess | null = null;
  afterAll(async () => {
    // Only on a failure before the test's own stop: never leave the topology running.
    if (cli && cli.exitCode === null) {
      const gone = new Promise((resolve) => cli!.once("exit", resolve));
      cli.kill("SIGTERM");
      await gone;
    }
  });

  it("serves two users chatting across nodes on a 3+3 Redis Cluster, and stops everything by PID", async () => {
    const nginxPort = await freePort();
    cli = spawn(process.execPath, [CLI, "--redis-cluster", "3", "--nodes", "2", "--port", String(nginxPort), "--ephemeral"], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    const lines = await startupLines(cli, 90_000);

    // The first lines say what runs where: the seeds are what REDIS_CLUSTER_NODES takes.
    expect(lines[0]).toContain("a Redis Cluster (3 primaries + 3 replicas), 2 node(s)");
    const seeds = /redis cluster seeds (\S+)/.exec(lines.join("\n"))?.[1];
    expect(seeds?.split(",")).toHaveLength(6);
    const nodeUrls = lines.flatMap((line) => /node-\d at (http:\S+)/.exec(line)?.[1] ?? []);
    expect(nodeUrls).toHaveLength(2);
    const base = `http://127.0.0.1:${nginxPort}`;

    const pids = descendants(cli.pid!);
    const ps = spawnSync("ps", ["-o", "args=", "-p", pids.join(",")], { encoding: "utf8" }).stdout;
    expect(ps.match(/redis-server .*\[cluster\]/g)).toHaveLength(6);
    expect(ps.match(/services\/chat\/dist\/server\.js/g)).toHaveLength(2);
    expect(ps).toContain("nginx: master process");
    const ports = [nginxPort, ...nodeUrls.map((url) => Number(new URL(url).port)), ...seeds!.split(",").map((seed) => Number(seed.split(":")[1]))];

    const startNodes = seeds!.split(",").map((seed) => ({ host: "127.0.0.1", port: Number(seed.split(":")[1]) }));
    const redis = new Cluster(startNodes, { scaleReads: "master" });
    const clients: TestClient[] = [];
    try {
      expect(String(await redis.call("CLUSTER", "INFO"))).toMatch(/cluster_state:ok[\s\S]*cluster_size:3/);

      // Logins go through nginx; each socket is then held by a different node, so the room's
      // messages must cross nodes (the adapter's sharded pub/sub on the room's shard).
      const run = Date.now().toString(36).slice(-5);
      const names = [`rcalice${run}`, `rcbob${run}`];
      const cookies = [await registerAndLogin(base, names[0]!), await registerAndLogin(base, names[1]!)];
      clients.push(await connectClient(nodeUrls[0]!, names[0]!, cookies[0]!), await connectClient(nodeUrls[1]!, names[1]!, cookies[1]!));
      const [alice, bob] = clients as [TestClient, TestClient];

      const created = await ask(alice.socket, "create_room", { name: `redis cluster ${run}` });
      expect(created.ok, JSON.stringify(created)).toBe(true);
      const roomId: string = created.room.id;
      let key: { id: number; key: string } | null = null;
      for (const client of clients) {
        const joined = await ask(client.socket, "join_room", { roomId });
        expect(joined.ok, JSON.stringify(joined)).toBe(true);
        client.roomId = roomId;
        key = joined.key;
      }
      const fromAlice = await ask(alice.socket, "text", { roomId, msg: encryptText("hello from node-1", roomId, key!), id: "rcmsgalice1" });
      expect(fromAlice.ok, JSON.stringify(fromAlice)).toBe(true);
      const fromBob = await ask(bob.socket, "text", { roomId, msg: encryptText("hello from node-2", roomId, key!), id: "rcmsgbob001" });
      expect(fromBob.ok, JSON.stringify(fromBob)).toBe(true);
      const deadline = Date.now() + 10_000;
      while ((alice.received.length < 2 || bob.received.length < 2) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      for (const client of clients) {
        expect(client.received.map((message) => message.seq)).toEqual([1, 2]);
        const texts = client.received.map((message) => decryptText(message.msg, roomId, (id) => (id === key!.id ? key!.key : undefined)));
        expect(texts.map((text) => (text.ok ? text.text : text.reason))).toEqual(["hello from node-1", "hello from node-2"]);
      }

      // The state lives in the Redis Cluster (not in a node's memory), spread by key over its primaries.
      const perPrimary = await Promise.all(redis.nodes("master").map((node) => node.dbsize()));
      expect(perPrimary.reduce((sum, keys) => sum + keys, 0)).toBeGreaterThan(0);
    } finally {
      for (const client of clients) client.socket.disconnect();
      redis.disconnect();
    }

    const exited = new Promise<number | null>((resolve) => cli!.once("exit", (code) => resolve(code)));
    cli.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(pids.filter(alive)).toEqual([]);
    for (const port of ports) expect(await listening(port)).toBe(false);
  }, 150_000);
});
