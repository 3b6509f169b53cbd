/**
 * A Sala node as a separate process (the built dist/server.js), for tests that must kill a node
 * for real (SIGKILL: no cleanup runs, exactly like a crash).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { testNodeEnv, type TestNode } from "./cluster.js";

const SERVER = fileURLToPath(new URL("../../dist/server.js", import.meta.url));

export interface ChildNode extends Omit<TestNode, "node"> {
  process: ChildProcess;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export async function startChildNode(id: string, redisUrl: string, prefix: string, env: Record<string, string> = {}): Promise<ChildNode> {
  const child = spawn(process.execPath, [SERVER], {
    env: { PATH: process.env.PATH, ...testNodeEnv(id, redisUrl, prefix, { LOG_LEVEL: "info", ...env }) },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`node ${id} did not start in time`)), 15_000);
    child.once("exit", (code) => reject(new Error(`node ${id} exited with ${code}`)));
    createInterface({ input: child.stdout! }).on("line", (line) => {
      try {
        const entry = JSON.parse(line) as { event?: string; port?: number };
        if (entry.event === "node_started" && entry.port) {
          clearTimeout(timer);
          resolve(entry.port);
        }
      } catch {
        // not a log line
      }
    });
  });
  return {
    id,
    url: `http://127.0.0.1:${port}`,
    process: child,
    async kill(signal: NodeJS.Signals = "SIGKILL") {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill(signal);
      await exited;
    },
  };
}
