/**
 * Vitest global setup for the integration project: one redis-server and one Redis Cluster
 * (3 primaries, 3 replicas) for the whole run. Tests that kill Redis processes start their own.
 */
import type { TestProject } from "vitest/node";
import { startRedisCluster } from "./redis-cluster.js";
import { startRedisServer } from "./redis-server.js";

declare module "vitest" {
  export interface ProvidedContext {
    redisUrl: string;
    /** REDIS_CLUSTER_NODES of the run's Redis Cluster: `host:port,…`. */
    redisClusterNodes: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const [server, cluster] = await Promise.all([startRedisServer(), startRedisCluster({ primaries: 3, replicasPerPrimary: 1 })]);
  project.provide("redisUrl", server.url);
  project.provide("redisClusterNodes", cluster.seeds);
  return async () => {
    await Promise.all([server.stop(), cluster.stop()]);
  };
}
