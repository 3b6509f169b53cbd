/**
 * npm run cluster [-- --nodes 3 --port 8080]: the whole topology on this machine until Ctrl-C.
 */
import { parseArgs } from "node:util";
import { ProcessCluster } from "./cluster.js";

const { values } = parseArgs({
  options: {
    nodes: { type: "string", default: "3" },
    port: { type: "string", default: "8080" },
    ephemeral: { type: "boolean", default: false },
  },
});
const nodes = Number(values.nodes);
const port = Number(values.port);
if (!Number.isInteger(nodes) || nodes < 1 || nodes > 16 || !Number.isInteger(port) || port < 1 || port > 65535) {
  console.error("usage: npm run cluster -- [--nodes 1..16] [--port 8080] [--ephemeral]");
  process.exit(2);
}

console.info(`cluster: starting redis-server, ${nodes} node(s) and nginx…`);
const cluster = await ProcessCluster.start({ nodes, port, persistent: !values.ephemeral }).catch((error: Error) => {
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
