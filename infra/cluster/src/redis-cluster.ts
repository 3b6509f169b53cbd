/**
 * A real Redis Cluster as processes on loopback: `primaries` redis-server processes with
 * `replicasPerPrimary` replicas each, joined by `redis-cli --cluster create`, started and stopped
 * by PID. The one implementation behind `npm run cluster -- --redis-cluster N` and the tests'
 * startRedisCluster (services/chat/test/support/redis-cluster.ts).
 *
 * Every member runs with infra/redis-cluster.conf, as the compose profile `redis-cluster` does:
 * `cluster-require-full-coverage no` (a lost primary stops only its own slots until its replica is
 * promoted, not the whole cluster) and the default cluster-node-timeout.
 */
import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { freePort, sleep } from "./processes.js";
import { RedisProcess } from "./redis.js";

const HOST = "127.0.0.1";

/** infra/redis-cluster.conf: the cluster settings compose's Redis Cluster members use too. */
export const REDIS_CLUSTER_CONF = fileURLToPath(new URL("../../redis-cluster.conf", import.meta.url));

export interface RedisClusterOptions {
  /** Primaries (redis-cli refuses fewer than 3). */
  primaries: number;
  replicasPerPrimary?: number;
  /** cluster-node-timeout: how long a silent primary has before its replica takes over (default: the conf's 5 s). */
  nodeTimeoutMs?: number;
  /** Each member keeps its data and nodes.conf in a directory of its own below this one. */
  dir: string;
  /** As RedisProcess: infra/redis.conf (AOF) per member, or no persistence at all. */
  persistent: boolean;
}

/**
 * The flags that make a redis-server a cluster member. The bus port is given explicitly: the
 * default (port + 10000) may be taken on a machine full of free-port test servers.
 */
export function clusterMemberArgs(busPort: number, nodeTimeoutMs?: number): string[] {
  return [
    "--include", REDIS_CLUSTER_CONF,
    "--cluster-port", String(busPort),
    ...(nodeTimeoutMs === undefined ? [] : ["--cluster-node-timeout", String(nodeTimeoutMs)]),
  ];
}

export class RedisClusterProcess {
  private constructor(
    readonly members: RedisProcess[],
    readonly primaries: number,
    private readonly replicasPerPrimary: number,
  ) {}

  /** Chooses free ports and directories; nothing runs until `start`. */
  static async create(options: RedisClusterOptions): Promise<RedisClusterProcess> {
    const { primaries, replicasPerPrimary = 1, nodeTimeoutMs, dir, persistent } = options;
    if (!Number.isInteger(primaries) || primaries < 3) throw new Error(`a Redis Cluster needs at least 3 primaries (got ${primaries})`);
    const members: RedisProcess[] = [];
    for (let i = 0; i < primaries * (1 + replicasPerPrimary); i++) {
      const [port, busPort] = [await freePort(), await freePort()];
      const memberDir = join(dir, `redis-cluster-${port}`);
      mkdirSync(memberDir, { recursive: true });
      members.push(new RedisProcess({ port, dir: memberDir, persistent, extraArgs: clusterMemberArgs(busPort, nodeTimeoutMs) }));
    }
    return new RedisClusterProcess(members, primaries, replicasPerPrimary);
  }

  /** `host:port` of every member, comma-separated: REDIS_CLUSTER_NODES. */
  get seeds(): string {
    return this.members.map((member) => `${HOST}:${member.options.port}`).join(",");
  }

  get startNodes(): Array<{ host: string; port: number }> {
    return this.members.map((member) => ({ host: HOST, port: member.options.port }));
  }

  pids(): number[] {
    return this.members.map((member) => member.pid).filter((pid): pid is number => pid !== undefined);
  }

  /** Starts every member, creates the cluster and waits until it has converged (see waitForCluster). */
  async start(): Promise<void> {
    try {
      await Promise.all(this.members.map((member) => member.start()));
      await runCommand("redis-cli", ["--cluster", "create", ...this.seeds.split(","), "--cluster-replicas", String(this.replicasPerPrimary), "--cluster-yes"]);
      await waitForCluster(this.startNodes, this.primaries);
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  /** SIGTERM to every member (each writes its AOF when persistent). */
  async stop(): Promise<void> {
    await Promise.all(this.members.map((member) => member.stop()));
  }
}

/**
 * Waits until every member sees the cluster as ok, knows every member with its final role (gossip
 * has converged), and every replica has finished its first sync: a replica whose link never came
 * up has no data to take over with, and a primary killed then would never be replaced. The bound
 * is generous: with every test project running at once on two cores, members with a 2 s
 * cluster-node-timeout mark each other failing while they form, and took over 30 s to settle in
 * CI (a healthy start settles in about a second; only a failure waits this long).
 */
export async function waitForCluster(members: Array<{ host: string; port: number }>, primaries: number, timeoutMs = 90_000): Promise<void> {
  await Promise.all(
    members.map(({ host, port }) =>
      poll(host, port, timeoutMs, async (client) => {
        const info = String(await client.call("CLUSTER", "INFO"));
        const lines = String(await client.call("CLUSTER", "NODES")).trim().split("\n");
        const masters = lines.filter((line) => line.split(" ")[2]?.includes("master")).length;
        const replication = String(await client.call("INFO", "replication"));
        const synced = replication.includes("role:master") || replication.includes("master_link_status:up");
        return info.includes("cluster_state:ok") && lines.length === members.length && masters === primaries && synced;
      }),
    ),
  );
}

/** Polls `check` on one connection (reconnected after a failure) until it is true. */
async function poll(host: string, port: number, timeoutMs: number, check: (client: Redis) => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const client = new Redis({ host, port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on("error", () => undefined); // a failed attempt is retried below
  try {
    for (;;) {
      try {
        if (client.status !== "ready") await client.connect();
        if (await check(client)) return;
      } catch {
        client.disconnect();
      }
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for the Redis Cluster to converge (seen from ${host}:${port})`);
      await sleep(100);
    }
  } finally {
    client.disconnect();
  }
}

/** Runs a command to its end; its output goes into the error when it fails. */
export function runCommand(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.once("error", (error) => reject(new Error(`${command}: ${error.message} (is it installed?)`)));
    child.once("exit", (code) => (code === 0 ? resolve(output) : reject(new Error(`${command} exited with ${code}: ${output.slice(-2000)}`))));
  });
}
