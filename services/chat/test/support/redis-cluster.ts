/**
 * A real Redis Cluster for tests (issue 18's ground): `primaries` redis-server processes with
 * `replicasPerPrimary` replicas each, on free loopback ports, each in a temp dir, stopped by PID.
 * The processes, flags and convergence wait are infra/cluster's (the same as `npm run cluster --
 * --redis-cluster N`); tests default to a short `cluster-node-timeout` so a failover takes seconds.
 */
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RedisClusterProcess } from "../../../../infra/cluster/src/redis-cluster.js";

export interface ClusterNodeProcess {
  port: number;
  process: ChildProcess;
}

export interface RedisClusterProcesses {
  nodes: ClusterNodeProcess[];
  /** `host:port` of every node, comma-separated (the form REDIS_CLUSTER_NODES takes). */
  seeds: string;
  /** ioredis Cluster start nodes. */
  startNodes: Array<{ host: string; port: number }>;
  stop(): Promise<void>;
}

export async function startRedisCluster(options: { primaries?: number; replicasPerPrimary?: number; nodeTimeoutMs?: number } = {}): Promise<RedisClusterProcesses> {
  const { primaries = 3, replicasPerPrimary = 1, nodeTimeoutMs = 2000 } = options;
  const dir = mkdtempSync(join(tmpdir(), "sala-redis-cluster-"));
  const cluster = await RedisClusterProcess.create({ primaries, replicasPerPrimary, nodeTimeoutMs, dir, persistent: false });
  await cluster.start().catch((error: unknown) => {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  });
  return {
    // Captured now: a test that SIGKILLs a member keeps its handle (RedisProcess forgets it only on its own stop/kill).
    nodes: cluster.members.map((member) => ({ port: member.options.port, process: member.process })),
    seeds: cluster.seeds,
    startNodes: cluster.startNodes,
    async stop() {
      await cluster.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
