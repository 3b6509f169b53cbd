import { fileURLToPath } from "node:url";
import type { ChildProcess } from "node:child_process";
import { Redis } from "ioredis";
import { isRunning, spawnLogged, stopProcess, waitUntil } from "./processes.js";

/** infra/redis.conf: the same settings docker compose gives its Redis (AOF on). */
export const REDIS_CONF = fileURLToPath(new URL("../../redis.conf", import.meta.url));

export interface RedisOptions {
  port: number;
  /** Where AOF and RDB files go (persistence survives stop/start in the same dir). */
  dir: string;
  /** false: no persistence at all (the tests' default); true: infra/redis.conf (AOF everysec). */
  persistent: boolean;
  /** More redis-server flags, after the others (a Redis Cluster member's, see redis-cluster.ts). */
  extraArgs?: string[];
}

/** A redis-server that can be stopped and started again on the same port and data dir. */
export class RedisProcess {
  private child: ChildProcess | null = null;

  constructor(readonly options: RedisOptions) {}

  get url(): string {
    return `redis://127.0.0.1:${this.options.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** The running redis-server (tests signal it directly). */
  get process(): ChildProcess {
    if (!this.child) throw new Error(`redis-server on port ${this.options.port} is not running`);
    return this.child;
  }

  async start(): Promise<void> {
    const { port, dir, persistent } = this.options;
    const args = [
      ...(persistent ? [REDIS_CONF] : ["--save", "", "--appendonly", "no"]),
      "--port", String(port),
      "--bind", "127.0.0.1",
      "--dir", dir,
      "--daemonize", "no",
      "--loglevel", "warning",
      ...(this.options.extraArgs ?? []),
    ];
    const child = spawnLogged("redis-server", args, process.env, "ignore");
    this.child = child;
    child.once("error", () => undefined);
    await waitUntil(() => this.ping(), 10_000, `redis-server on port ${port}`).catch((error: Error) => {
      throw isRunning(child) ? error : new Error(`redis-server exited at start (is it installed?): ${error.message}`);
    });
  }

  /** SIGTERM: Redis writes its AOF and exits (a frozen one is let go first, or it could not). */
  async stop(): Promise<void> {
    if (this.child && isRunning(this.child)) this.child.kill("SIGCONT");
    if (this.child) await stopProcess(this.child, "SIGTERM");
    this.child = null;
  }

  /** SIGKILL: Redis dies at once, without writing anything (a crash, or a failover's lost primary). */
  async kill(): Promise<void> {
    if (this.child) await stopProcess(this.child, "SIGKILL");
    this.child = null;
  }

  /**
   * SIGSTOP: Redis freezes with its connections open, as a stalled primary or a partition does:
   * commands are accepted by the kernel and never answered. `resume` (SIGCONT) lets it go on.
   */
  freeze(): void {
    if (!this.child || !isRunning(this.child)) throw new Error("redis-server is not running");
    this.child.kill("SIGSTOP");
  }

  resume(): void {
    if (!this.child || !isRunning(this.child)) throw new Error("redis-server is not running");
    this.child.kill("SIGCONT");
  }

  async ping(): Promise<boolean> {
    const probe = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on("error", () => undefined);
    try {
      await probe.connect();
      return (await probe.ping()) === "PONG";
    } finally {
      probe.disconnect();
    }
  }
}
