/**
 * npm run cluster [-- --nodes 3 --port 8080 --env NAME=value ...]: the whole topology on this
 * machine until Ctrl-C. `--env` (repeatable) sets a variable on every node, e.g.
 * `--env REGISTRATIONS_PER_IP=100000` for load tests. For /memory, grant an account the admin role
 * with `REDIS_URL=<the cluster's> npm run admin -- grant-admin NAME` (the URL is in the first log lines).
 */
import { parseArgs } from "node:util";
import { ProcessCluster } from "./cluster.js";

const { values } = parseArgs({
  options: {
    nodes: { type: "string", default: "3" },
    port: { type: "string", default: "8080" },
    ephemeral: { type: "boolean", default: false },
    env: { type: "string", multiple: true, default: [] },
  },
});
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
if (!Number.isInteger(nodes) || nodes < 1 || nodes > 16 || !Number.isInteger(port) || port < 1 || port > 65535) {
  console.error("usage: npm run cluster -- [--nodes 1..16] [--port 8080] [--ephemeral] [--env NAME=value ...]");
  process.exit(2);
}

console.info(`cluster: starting redis-server, ${nodes} node(s) and nginx…`);
const cluster = await ProcessCluster.start({ nodes, port, persistent: !values.ephemeral, env }).catch((error: Error) => {
  console.error(`cluster: failed to start: ${error.message}`);
  process.exit(1);
});
console.info(`cluster: Sala is at http://localhost:${port} (nginx)`);
for (const node of cluster.nodes) console.info(`cluster:   ${node.id} at ${node.url}`);
console.info(`cluster:   redis at ${cluster.redis.url} (data in ${cluster.dir})`);
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
