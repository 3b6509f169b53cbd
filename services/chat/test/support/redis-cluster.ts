/**
 * A real Redis Cluster for tests (issue 18's ground): `primaries` redis-server processes with
 * `replicasPerPrimary` replicas each, on free loopback ports (client and bus ports both chosen,
 * `cluster-port`), joined by `redis-cli --cluster create`, each in a temp dir, stopped by PID.
 * `cluster-require-full-coverage no` and a short `cluster-node-timeout`, as docs/SCALING.md and
 * ../shared/DESIGN.md advise, so a failover in a test takes seconds.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { freePort } from "./redis-server.js";

export interface ClusterNodeProcess {
  port: number;
  process: ChildProcess;
}

export interface RedisClusterProcesses {
  nodes: ClusterNodeProcess[];
  /** `host:port` of every node, comma-separated (the form REDIS_CLUSTER_NODES will take). */
  seeds: string;
  /** ioredis Cluster start nodes. */
  startNodes: Array<{ host: string; port: number }>;
  stop(): Promise<void>;
}

const HOST = "127.0.0.1";

export async function startRedisCluster(options: { primaries?: number; replicasPerPrimary?: number; nodeTimeoutMs?: number } = {}): Promise<RedisClusterProcesses> {
  const { primaries = 3, replicasPerPrimary = 1, nodeTimeoutMs = 2000 } = options;
  const dir = mkdtempSync(join(tmpdir(), "sala-redis-cluster-"));
  const nodes: ClusterNodeProcess[] = [];
  const stop = async () => {
    await Promise.all(
      nodes.map(({ process: child }) => {
        if (child.exitCode !== null || child.signalCode !== null) return undefined;
        const gone = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGTERM");
        return gone;
      }),
    );
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < primaries * (1 + replicasPerPrimary); i++) {
      const [port, busPort] = [await freePort(), await freePort()];
      const nodeDir = mkdtempSync(join(dir, `n${i}-`));
      const child = spawn(
        "redis-server",
        [
          "--port", String(port), "--bind", HOST, "--dir", nodeDir, "--save", "", "--appendonly", "no", "--loglevel", "warning",
          "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-port", String(busPort),
          "--cluster-node-timeout", String(nodeTimeoutMs), "--cluster-require-full-coverage", "no",
        ],
        { stdio: ["ignore", "ignore", "inherit"] },
      );
      nodes.push({ port, process: child });
    }
    await Promise.all(nodes.map(({ port }) => untilAnswers(port)));
    await run("redis-cli", ["--cluster", "create", ...nodes.map(({ port }) => `${HOST}:${port}`), "--cluster-replicas", String(replicasPerPrimary), "--cluster-yes"]);
    await Promise.all(nodes.map(({ port }) => untilClusterOk(port, nodes.length, primaries)));
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    nodes,
    seeds: nodes.map(({ port }) => `${HOST}:${port}`).join(","),
    startNodes: nodes.map(({ port }) => ({ host: HOST, port })),
    stop,
  };
}

async function untilAnswers(port: number): Promise<void> {
  await poll(`redis-server on ${port}`, async (client) => (await client.ping()) === "PONG", port);
}

/**
 * Every node sees the cluster as ok, knows every node with its final role (gossip has converged),
 * and a replica has finished its first sync: a replica whose link to its primary never came up
 * has data too old to take over, and a primary killed then would never be replaced.
 */
async function untilClusterOk(port: number, count: number, primaries: number): Promise<void> {
  await poll(`cluster state on ${port}`, async (client) => {
    const info = String(await client.call("CLUSTER", "INFO"));
    const lines = String(await client.call("CLUSTER", "NODES")).trim().split("\n");
    const masters = lines.filter((line) => line.split(" ")[2]!.includes("master")).length;
    const replication = String(await client.call("INFO", "replication"));
    const synced = replication.includes("role:master") || replication.includes("master_link_status:up");
    return info.includes("cluster_state:ok") && lines.length === count && masters === primaries && synced;
  }, port);
}

async function poll(what: string, check: (client: Redis) => Promise<boolean>, port: number, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const client = new Redis({ host: HOST, port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on("error", () => undefined); // refused while the server boots: polled again below
  try {
    for (;;) {
      try {
        if (client.status !== "ready") await client.connect();
        if (await check(client)) return;
      } catch {
        client.disconnect();
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    client.disconnect();
  }
}

function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk) => (output += chunk));
    child.stderr.on("data", (chunk) => (output += chunk));
    child.once("error", reject);
    child.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`${command} exited with ${code}: ${output.slice(-2000)}`))));
  });
}
