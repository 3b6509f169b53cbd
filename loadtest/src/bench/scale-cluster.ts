/**
 * The servers of a scale bench: one redis-server (no persistence) and N Sala nodes on it, on
 * loopback, each on its own port, with the session secret and prefix the minted sessions need
 * (minted-sessions.ts). Not pinned to cores: on this 2-core machine the nodes, Redis and the
 * generators share both, and each process's CPU is read from the process itself.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { createInterface } from "node:readline";
import { Redis } from "ioredis";
import { NodeProcess } from "@sala/cluster/node";
import { freePort } from "@sala/cluster/processes";
import { RedisProcess } from "@sala/cluster/redis";
import type { SessionStore } from "./minted-sessions.js";
import { RedisProbe } from "./redis-probe.js";
import { ORIGIN } from "./systems.js";

export interface ScaleClusterOptions {
  nodes: number;
  /** Extra environment for every node (limits raised, presence grace, ...). */
  env?: Record<string, string>;
  /** Node.js flags for the nodes (a larger heap). */
  execArgv?: string[];
  /** Stop the nodes with SIGTERM (they drain, and write a `--cpu-prof` profile) instead of SIGKILL. */
  gracefulStop?: boolean;
  label: string;
}

/** Warnings and errors the nodes logged, by their `event` field: how many, and the first one's message. */
export type NodeWarnings = Map<string, { count: number; first: string }>;

/** The default LOBBY_SENDS_PER_SEC, meant for a node with a core of its own. */
const LOBBY_SENDS_PER_CORE = 2000;

/**
 * Each node's share of the lobby budget: here all the nodes share this machine's cores (eight
 * nodes on two cores: a quarter of a core each), where a deployment gives each node its own.
 */
export function lobbySendsPerSec(nodes: number): number {
  return Math.max(100, Math.round((LOBBY_SENDS_PER_CORE * availableParallelism()) / nodes));
}

export class ScaleCluster {
  /** What the nodes logged at warn level or above (pino: level ≥ 40), to say why something failed. */
  readonly warnings: NodeWarnings = new Map();

  private constructor(
    readonly redis: RedisProcess,
    readonly nodes: NodeProcess[],
    readonly probe: RedisProbe,
    readonly sessions: SessionStore,
    private readonly dir: string,
    private readonly gracefulStop: boolean,
  ) {}

  static async start(options: ScaleClusterOptions): Promise<ScaleCluster> {
    const dir = mkdtempSync(join(tmpdir(), `sala-${options.label}-`));
    const redis = new RedisProcess({ port: await freePort(), dir, persistent: false });
    const nodes: NodeProcess[] = [];
    try {
      await redis.start();
      const sessions: SessionStore = { redisUrl: redis.url, prefix: `${options.label.replace(/[^A-Za-z0-9]/g, "")}${randomBytes(3).toString("hex")}`, secret: randomBytes(32).toString("base64url") };
      const env = {
        REDIS_URL: redis.url,
        REDIS_PREFIX: sessions.prefix,
        SESSION_SECRET: sessions.secret,
        ALLOWED_ORIGINS: ORIGIN,
        NODE_ENV: "production",
        // Every bench socket comes from 127.0.0.1.
        MAX_SOCKETS_PER_ADDRESS: "0",
        LOBBY_SENDS_PER_SEC: String(lobbySendsPerSec(options.nodes)),
        ...options.env,
      };
      for (let i = 0; i < options.nodes; i++) nodes.push(new NodeProcess(`${options.label}-${i + 1}`, await freePort(), env, options.execArgv ?? []));
      await Promise.all(nodes.map((node) => node.start()));
      const cluster = new ScaleCluster(redis, nodes, await RedisProbe.single(redis.options.port), sessions, dir, options.gracefulStop ?? false);
      for (const node of nodes) cluster.collectWarnings(node);
      return cluster;
    } catch (error) {
      await Promise.allSettled(nodes.map((node) => node.stop()));
      await redis.stop();
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
  }

  /** Reads the node's JSON log lines beside NodeProcess (which reads them only until the node has started). */
  private collectWarnings(node: NodeProcess): void {
    createInterface({ input: node.process.stdout! }).on("line", (line) => {
      if (!line.includes('"level":4') && !line.includes('"level":5') && !line.includes('"level":6')) return;
      try {
        const entry = JSON.parse(line) as { level?: number; event?: string; msg?: string; err?: string };
        if ((entry.level ?? 0) < 40) return;
        const key = entry.event ?? entry.msg ?? "?";
        const seen = this.warnings.get(key);
        if (seen) seen.count++;
        else this.warnings.set(key, { count: 1, first: `${entry.msg ?? ""}${entry.err ? `: ${entry.err}` : ""}` });
      } catch {
        // not a log line
      }
    });
  }

  /** The warnings as one line each, most frequent first. */
  warningLines(): string[] {
    return [...this.warnings.entries()].sort((a, b) => b[1].count - a[1].count).map(([event, { count, first }]) => `${event} × ${count} (${first})`);
  }

  get urls(): string[] {
    return this.nodes.map((node) => node.url);
  }

  get nodePids(): number[] {
    return this.nodes.map((node) => node.process.pid!);
  }

  get redisPid(): number {
    return this.redis.pid!;
  }

  /** Redis INFO memory used_memory (bytes). */
  async redisUsedMemory(): Promise<number> {
    const client = new Redis(this.redis.url, { maxRetriesPerRequest: 1 });
    try {
      return Number(/^used_memory:(\d+)/m.exec(await client.info("memory"))?.[1] ?? Number.NaN);
    } finally {
      client.disconnect();
    }
  }

  async stop(): Promise<void> {
    this.probe.close();
    // SIGKILL unless asked: a drain of thousands of sockets would only time the shutdown.
    await Promise.allSettled(this.nodes.map((node) => (this.gracefulStop ? node.stop() : node.kill())));
    await this.redis.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
