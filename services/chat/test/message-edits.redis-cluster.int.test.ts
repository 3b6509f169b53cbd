/** Editing and deleting room messages on two nodes over the run's Redis Cluster (3 primaries, 3 replicas). */
import { inject } from "vitest";
import { startCluster, useRedisCluster } from "./support/cluster.js";
import { describeMessageEdits } from "./message-edits-suite.js";

useRedisCluster();
describeMessageEdits("two nodes on the Redis Cluster", () => startCluster(2, inject("redisUrl")));
