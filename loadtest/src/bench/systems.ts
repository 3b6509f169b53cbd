/**
 * The systems under test, started for the benchmark: one redis-server, two Sala nodes (cluster
 * members) and, on demand, bare baseline servers — all on loopback, pinned as cores.ts lays out.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { NodeProcess } from "@sala/cluster/node";
import { freePort } from "@sala/cluster/processes";
import { RedisProcess } from "@sala/cluster/redis";
import type { Target } from "../target.js";
import { startBaseline, type BaselineProcess } from "./baseline-process.js";
import type { CoreLayout } from "./cores.js";
import { pin } from "./machine.js";

export const ORIGIN = "http://127.0.0.1:3000";
export const ADMIN = "benchadmin";
/** The operator's CLI (`npm run admin`), built with the node. */
const ADMIN_CLI = fileURLToPath(new URL("../../../services/chat/dist/admin/cli.js", import.meta.url));

/** A configuration measured: a target for the driver and the processes whose CPU it costs. */
export interface System {
  label: string;
  target: Target;
  /** The server processes (for CPU and RSS). */
  nodePids: number[];
  /** The Redis the system uses, whose CPU it costs too (null: none, bare on one node). */
  redisPid: number | null;
  /** Sala's NODE_IDs, as its per-second node samples name them (none for the bare baseline). */
  nodeIds: string[];
  stop(): Promise<void>;
}

/** What every bench's Sala node runs with, whatever its store. */
export function benchNodeEnv(cores: CoreLayout): Record<string, string> {
  return {
    ALLOWED_ORIGINS: ORIGIN,
    NODE_ENV: "production",
    // Load users all come from 127.0.0.1 and send more than a person would.
    REGISTRATIONS_PER_IP: "1000000",
    MAX_SOCKETS_PER_ADDRESS: "0", // 10k idle sockets from one address
    SOCKET_EVENTS_PER_SEC: "1000",
    // The nodes are spawned by this process, already pinned to the generator's core, and inherit
    // that one-core affinity: their default (one hash per core they may use) would be 1. Give them
    // the default for the cores the login storm runs on, so that it uses them all.
    ARGON2_CONCURRENCY: String(cores.logins.split(",").length),
  };
}

/** Every process whose CPU a system costs: its nodes and its Redis. */
export function serverPids(system: System): number[] {
  return system.redisPid === null ? system.nodePids : [...system.nodePids, system.redisPid];
}

export class BenchCluster {
  private constructor(
    readonly redis: RedisProcess,
    readonly nodes: NodeProcess[],
    private readonly dir: string,
    private readonly env: Record<string, string>,
    private readonly execArgv: string[],
    private readonly cores: CoreLayout,
  ) {}

  /** `execArgv`: Node.js flags for the Sala nodes (`--cpu-prof` when profiling). */
  static async start(cores: CoreLayout, execArgv: string[] = []): Promise<BenchCluster> {
    const dir = mkdtempSync(join(tmpdir(), "sala-bench-"));
    const redis = new RedisProcess({ port: await freePort(), dir, persistent: false });
    await redis.start();
    const env = {
      REDIS_URL: redis.url,
      REDIS_PREFIX: `bench${randomBytes(3).toString("hex")}`,
      SESSION_SECRET: randomBytes(32).toString("base64url"),
      ...benchNodeEnv(cores),
    };
    const nodes = [new NodeProcess("node-1", await freePort(), env, execArgv), new NodeProcess("node-2", await freePort(), env, execArgv)];
    const cluster = new BenchCluster(redis, nodes, dir, env, execArgv, cores);
    try {
      await Promise.all(nodes.map((node) => node.start()));
      await cluster.pinServers();
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  /** Gives an existing account the admin role, as an operator does (`npm run admin -- grant-admin NAME`). */
  async grantAdmin(username: string): Promise<void> {
    const { REDIS_URL, REDIS_PREFIX } = this.env;
    await promisify(execFile)(process.execPath, [ADMIN_CLI, "grant-admin", username], { env: { PATH: process.env.PATH, REDIS_URL, REDIS_PREFIX } });
  }

  get redisPid(): number {
    return this.redis.pid!;
  }

  /** Pins Redis and each node to its core. */
  async pinServers(): Promise<void> {
    await pin(this.redisPid, this.cores.redis);
    for (const [index, node] of this.nodes.entries()) await pin(node.process.pid!, this.cores.server(index));
  }

  /** Gives the first node the login storm's cores (pinServers puts it back). */
  async pinForLogins(): Promise<void> {
    await pin(this.nodes[0]!.process.pid!, this.cores.logins);
  }

  /** Sala with its clients on the first `count` nodes (the others idle, unsubscribed from the rooms). */
  sala(count: 1 | 2): System {
    const nodes = this.nodes.slice(0, count);
    const nodePids = nodes.map((node) => node.process.pid!);
    return {
      label: `Sala, ${count} node${count > 1 ? "s" : ""}`,
      target: { kind: "sala", urls: nodes.map((node) => node.url), origin: ORIGIN },
      nodePids,
      redisPid: this.redisPid,
      nodeIds: nodes.map((node) => node.id),
      stop: async () => undefined,
    };
  }

  /**
   * Sala on a node started just now (same Redis, so the users' sessions hold), stopped with the
   * system. For memory and handshakes: a node that has carried the chat phases has heap to spare
   * that new sockets would fill without growing its RSS, and the bare server is always fresh too.
   */
  async freshSala(): Promise<System> {
    const node = new NodeProcess("node-fresh", await freePort(), this.env, this.execArgv);
    try {
      await node.start();
      await pin(node.process.pid!, this.cores.server(0));
    } catch (error) {
      await node.stop();
      throw error;
    }
    const pid = node.process.pid!;
    return {
      label: "Sala, 1 node",
      target: { kind: "sala", urls: [node.url], origin: ORIGIN },
      nodePids: [pid],
      redisPid: this.redisPid,
      nodeIds: [node.id],
      stop: () => node.stop(),
    };
  }

  /** Bare Socket.IO: one node with the in-memory adapter, or `count` nodes on this Redis with the sharded adapter. */
  async baseline(count: 1 | 2): Promise<System> {
    const processes: BaselineProcess[] = [];
    try {
      for (let i = 0; i < count; i++) {
        processes.push(await startBaseline(count > 1 ? { redisUrl: this.redis.url, nodeIndex: i, nodes: count } : {}));
      }
    } catch (error) {
      await Promise.all(processes.map((p) => p.stop()));
      throw error;
    }
    for (const [index, p] of processes.entries()) await pin(p.pid, this.cores.server(index));
    const nodePids = processes.map((p) => p.pid);
    return {
      label: count > 1 ? `bare, ${count} nodes + adapter` : "bare, 1 node",
      target: { kind: "baseline", urls: processes.map((p) => p.url), origin: ORIGIN },
      nodePids,
      redisPid: count > 1 ? this.redisPid : null,
      nodeIds: [],
      stop: async () => {
        await Promise.all(processes.map((p) => p.stop()));
      },
    };
  }

  async stop(): Promise<void> {
    await Promise.allSettled(this.nodes.map((node) => node.stop()));
    await this.redis.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
