/** The bare baseline server (baseline/server.ts) as a child process, for the benchmark and tests. */
import { fileURLToPath } from "node:url";
import { freePort, spawnLogged, stopProcess, waitForLogLine } from "@sala/cluster/processes";

// The built server (npm run build), whether this module runs from dist/ or, in tests, from src/.
const ENTRY = fileURLToPath(new URL("../../dist/baseline/server.js", import.meta.url));

export interface BaselineProcess {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

export interface BaselineOptions {
  /** With Redis: the same sharded adapter as Sala; without: the in-memory adapter of one node. */
  redisUrl?: string;
  nodeIndex?: number;
  nodes?: number;
}

export async function startBaseline(options: BaselineOptions): Promise<BaselineProcess> {
  const child = spawnLogged(process.execPath, [ENTRY], {
    PATH: process.env.PATH,
    PORT: String(await freePort()),
    BASELINE_NODE_INDEX: String(options.nodeIndex ?? 0),
    BASELINE_NODES: String(options.nodes ?? 1),
    ...(options.redisUrl ? { BASELINE_REDIS_URL: options.redisUrl } : {}),
  });
  const port = await waitForLogLine(child, (entry) => (entry.event === "baseline_started" ? Number(entry.port) : undefined), 15_000, "baseline start");
  return { url: `http://127.0.0.1:${port}`, pid: child.pid!, stop: () => stopProcess(child, "SIGTERM", 3000) };
}
