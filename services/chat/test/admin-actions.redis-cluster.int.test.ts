/** The sala-admin suite with the nodes' shared state, and the CLI, on the run's Redis Cluster (3 primaries, 3 replicas). */
import { useRedisCluster } from "./support/cluster.js";

useRedisCluster();
await import("./admin-actions.int.test.js");
