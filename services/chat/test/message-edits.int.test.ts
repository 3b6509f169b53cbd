/** Editing and deleting room messages on two nodes over the run's redis-server, and on an embedded node. */
import { inject } from "vitest";
import { startCluster } from "./support/cluster.js";
import { describeMessageEdits } from "./message-edits-suite.js";

describeMessageEdits("two nodes on redis-server", () => startCluster(2, inject("redisUrl")));
describeMessageEdits("embedded node (memory stores)", () => startCluster(1, null));
