/**
 * npm run cluster [-- --nodes 3 --port 8080 --redis-cluster 3 --env NAME=value ...]: the whole
 * topology on this machine until Ctrl-C (`--help` lists the options). `--env` (repeatable) sets a
 * variable on every node, e.g. `--env REGISTRATIONS_PER_IP=100000` for load tests. For /memory,
 * grant an account the admin role with `REDIS_URL=<the cluster's> npm run admin -- grant-admin
 * NAME` (or `REDIS_CLUSTER_NODES=<the seeds>` with --redis-cluster; both are in the first log lines).
 */
import { parseArgs } from "node:util";
import { ProcessCluster } from "./cluster.js";

const USAGE = `usage: npm run cluster -- [options]

  --nodes N            Sala nodes, 1..16 (default 3)
  --port P             nginx's port (default 8080)
  --redis-cluster N    a Redis Cluster of N primaries (3..8) with one replica each instead of one
                       redis-server; the nodes get REDIS_CLUSTER_NODES (the seeds are printed)
                       instead of REDIS_URL. cluster-require-full-coverage no, node timeout 5 s.
  --ephemeral          no Redis persistence (default: infra/redis.conf, AOF, per Redis process)
  --env NAME=value     set a variable on every node (repeatable)
  --help               this text`;

let values;
try {
  ({ values } = parseArgs({
    options: {
      nodes: { type: "string", default: "3" },
      port: { type: "string", default: "8080" },
      "redis-cluster": { type: "string" },
      ephemeral: { type: "boolean", default: false },
      env: { type: "string", multiple: true, default: [] },
      help: { type: "boolean", default: false },
    },
  }));
} catch (error) {
  console.error(`${(error as Error).message}\n\n${USAGE}`);
  process.exit(2);
}
if (values.help) {
  console.info(USAGE);
  process.exit(0);
}
const env: Record<string, string> = {};
for (const pair of values.env) {
  const match = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(pair);
  if (!match) {
    console.error(`--env ${pair}: expected NAME=value`);
    process.exit(2);
  }
  env[match[1]!] = match[2]!;
}
const nodes = Number(values.nodes);
const port = Number(values.port);
const primaries = values["redis-cluster"] === undefined ? undefined : Number(values["redis-cluster"]);
const valid = (n: number, min: number, max: number) => Number.isInteger(n) && n >= min && n <= max;
if (!valid(nodes, 1, 16) || !valid(port, 1, 65535) || (primaries !== undefined && !valid(primaries, 3, 8))) {
  console.error(USAGE);
  process.exit(2);
}

const redisWhat = primaries ? `a Redis Cluster (${primaries} primaries + ${primaries} replicas)` : "redis-server";
console.info(`cluster: starting ${redisWhat}, ${nodes} node(s) and nginx…`);
const cluster = await ProcessCluster.start({ nodes, port, persistent: !values.ephemeral, env, redisCluster: primaries }).catch((error: Error) => {
  console.error(`cluster: failed to start: ${error.message}`);
  process.exit(1);
});
console.info(`cluster: Sala is at http://localhost:${port} (nginx)`);
for (const node of cluster.nodes) console.info(`cluster:   ${node.id} at ${node.url}`);
if (cluster.redisCluster) {
  console.info(`cluster:   redis cluster seeds ${cluster.redisCluster.seeds} (REDIS_CLUSTER_NODES; data in ${cluster.dir})`);
} else {
  console.info(`cluster:   redis at ${cluster.redis.url} (data in ${cluster.dir})`);
}
console.info("cluster: Ctrl-C stops everything");

let stopping = false;
const stop = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  console.info(`cluster: ${signal}: stopping nginx, nodes and redis…`);
  await cluster.stop();
  console.info("cluster: stopped");
  process.exit(0);
};
process.on("SIGINT", () => void stop("SIGINT"));
process.on("SIGTERM", () => void stop("SIGTERM"));
