/**
 * Issue 20, item 4, on a Redis Cluster: a data set made by real users on the run's 3+3 cluster
 * (its keys on every primary) is backed up with the real CLI and restored under another prefix on
 * the same cluster, where each key lands on its slot's primary and new nodes serve it
 * (support/backup-roundtrip.ts). Needs the built CLI (`npx tsc -b services/chat`).
 */
import { Cluster } from "ioredis";
import { expect, inject } from "vitest";
import { scanKeys } from "../src/stores/redis/repair.js";
import { describeBackupRoundTrip } from "./support/backup-roundtrip.js";
import { useRedisCluster } from "./support/cluster.js";
import { clusterStartNodes, uniquePrefix } from "./support/redis-client.js";

useRedisCluster();

const cluster = () => new Cluster(clusterStartNodes(), { scaleReads: "master" });

describeBackupRoundTrip({
  label: "Redis Cluster into another prefix",
  // With useRedisCluster, nodes given the run's redis URL keep their state on the cluster.
  sourceRedisUrl: inject("redisUrl"),
  sourceStore: { REDIS_CLUSTER_NODES: inject("redisClusterNodes") },
  sourceClient: cluster,
  async makeTarget(sourcePrefix) {
    const client = cluster();
    const prefix = uniquePrefix("restored");
    // The source's data is spread over every primary: the backup must read them all.
    await client.ping(); // connected: the slot map is known
    const primaries = client.nodes("master");
    expect(primaries.length).toBe(3);
    for (const primary of primaries) {
      let found = 0;
      for await (const _key of scanKeys(primary, `${sourcePrefix}:*`)) if (++found > 0) break;
      expect(found, `keys of ${sourcePrefix} on the primary at port ${primary.options.port}`).toBeGreaterThan(0);
    }
    return {
      store: { REDIS_CLUSTER_NODES: inject("redisClusterNodes") },
      nodeRedisUrl: inject("redisUrl"),
      prefix,
      client,
      async stop() {
        const left: string[] = [];
        for await (const key of scanKeys(client, `${prefix}:*`)) left.push(key);
        for (const key of left) await client.del(key);
        client.disconnect();
      },
    };
  },
});
