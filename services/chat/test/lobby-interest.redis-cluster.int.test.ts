/** The bounded-lobby suite with every node's shared state on the run's Redis Cluster (3 primaries, 3 replicas). */
import { useRedisCluster } from "./support/cluster.js";

useRedisCluster();
await import("./lobby-interest.int.test.js");
