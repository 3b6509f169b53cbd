/**
 * The docker-compose topology as processes on one machine: a redis-server (or a Redis Cluster of
 * N primaries with a replica each), N Sala nodes and nginx in front, using the same configuration
 * files (infra/redis.conf, infra/nginx/sala.conf.template). Started and health-checked by
 * `start`, stopped (everything, by PID) by `stop`.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { NginxProcess } from "./nginx.js";
import { NodeProcess } from "./node.js";
import { freePort } from "./processes.js";
import { RedisProcess } from "./redis.js";
import { RedisClusterProcess } from "./redis-cluster.js";

export interface ClusterOptions {
  /** Number of Sala nodes (default 3). */
  nodes?: number;
  /** nginx's port (default: a free one). */
  port?: number;
  /** Redis with infra/redis.conf persistence (AOF) — default true; tests may turn it off. */
  persistent?: boolean;
  /**
   * Primaries of a Redis Cluster (≥ 3, one replica each) instead of one redis-server; the nodes
   * get REDIS_CLUSTER_NODES instead of REDIS_URL.
   */
  redisCluster?: number;
  /** The Redis Cluster's cluster-node-timeout (default 5000 ms). */
  redisNodeTimeoutMs?: number;
  /** Extra environment for every node. */
  env?: Record<string, string>;
  /** Where Redis data, nginx config and logs go (default: a fresh temp dir, removed at stop). */
  dir?: string;
}

export class ProcessCluster {
  readonly nodes: NodeProcess[];
  readonly nginx: NginxProcess;

  private constructor(
    readonly dir: string,
    private readonly ownsDir: boolean,
    /** Exactly one of these two is set. */
    private readonly single: RedisProcess | null,
    readonly redisCluster: RedisClusterProcess | null,
    nodes: NodeProcess[],
    nginx: NginxProcess,
  ) {
    this.nodes = nodes;
    this.nginx = nginx;
  }

  /** The single redis-server (the default topology); a cluster started with `redisCluster` has none. */
  get redis(): RedisProcess {
    if (!this.single) throw new Error("this cluster runs a Redis Cluster, not one redis-server: use redisCluster");
    return this.single;
  }

  /** Where users go: nginx. */
  get url(): string {
    return this.nginx.url;
  }

  static async start(options: ClusterOptions = {}): Promise<ProcessCluster> {
    if (options.redisCluster !== undefined && options.redisCluster < 3) throw new Error(`a Redis Cluster needs at least 3 primaries (got ${options.redisCluster})`);
    const ownsDir = options.dir === undefined;
    const dir = options.dir ?? mkdtempSync(join(tmpdir(), "sala-cluster-"));
    const nginxPort = options.port ?? (await freePort());
    const persistent = options.persistent ?? true;
    const single = options.redisCluster ? null : new RedisProcess({ port: await freePort(), dir, persistent });
    const redisCluster = options.redisCluster
      ? await RedisClusterProcess.create({ primaries: options.redisCluster, nodeTimeoutMs: options.redisNodeTimeoutMs, dir, persistent })
      : null;
    const origin = `http://localhost:${nginxPort},http://127.0.0.1:${nginxPort}`;
    const env = {
      ...(redisCluster ? { REDIS_CLUSTER_NODES: redisCluster.seeds } : { REDIS_URL: single!.url }),
      REDIS_PREFIX: "sala",
      SESSION_SECRET: randomBytes(32).toString("base64url"),
      ALLOWED_ORIGINS: origin,
      TRUST_PROXY: "127.0.0.1",
      NODE_ENV: "production",
      ...options.env,
    };
    const nodes: NodeProcess[] = [];
    for (let i = 1; i <= (options.nodes ?? 3); i++) nodes.push(new NodeProcess(`node-${i}`, await freePort(), env));
    const nginx = new NginxProcess(nginxPort, () => nodes.map((node) => `127.0.0.1:${node.port}`), dir);
    const cluster = new ProcessCluster(dir, ownsDir, single, redisCluster, nodes, nginx);
    try {
      await (redisCluster ?? single!).start();
      await Promise.all(nodes.map((node) => node.start()));
      await nginx.start();
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  /** Stops nginx, every node (draining) and Redis; nothing is left running. */
  async stop(): Promise<void> {
    await this.nginx.stop();
    await Promise.all(this.nodes.map((node) => node.stop()));
    await (this.redisCluster ?? this.single!).stop();
    if (this.ownsDir) rmSync(this.dir, { recursive: true, force: true });
  }

  /** PIDs of every process of the cluster that is running now. */
  pids(): number[] {
    return [...(this.redisCluster?.pids() ?? [this.single!.pid]), this.nginx.pid, ...this.nodes.map((node) => (node.running ? node.process.pid : undefined))].filter(
      (pid): pid is number => pid !== undefined,
    );
  }
}

export { NodeProcess, NginxProcess, RedisProcess, RedisClusterProcess };
