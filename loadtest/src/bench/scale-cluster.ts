/**
 * The servers of a scale bench: one redis-server (no persistence) and N Sala nodes on it, on
 * loopback, each on its own port, with the session secret and prefix the minted sessions need
 * (minted-sessions.ts). Not pinned to cores: on this 2-core machine the nodes, Redis and the
 * generators share both, and each process's CPU is read from the process itself.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
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
  label: string;
}

export class ScaleCluster {
  private constructor(
    readonly redis: RedisProcess,
    readonly nodes: NodeProcess[],
    readonly probe: RedisProbe,
    readonly sessions: SessionStore,
    private readonly dir: string,
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
        ...options.env,
      };
      for (let i = 0; i < options.nodes; i++) nodes.push(new NodeProcess(`${options.label}-${i + 1}`, await freePort(), env, options.execArgv ?? []));
      await Promise.all(nodes.map((node) => node.start()));
      return new ScaleCluster(redis, nodes, await RedisProbe.single(redis.options.port), sessions, dir);
    } catch (error) {
      await Promise.allSettled(nodes.map((node) => node.stop()));
      await redis.stop();
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
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
    // SIGKILL: a drain of thousands of sockets would only time the shutdown.
    await Promise.allSettled(this.nodes.map((node) => node.kill()));
    await this.redis.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
