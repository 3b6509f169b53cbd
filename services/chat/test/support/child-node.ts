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

/** `redisUrl` null: an embedded node. A variable given as null is left out (SESSION_SECRET, say). */
export async function startChildNode(id: string, redisUrl: string | null, prefix: string, env: Record<string, string | null> = {}): Promise<ChildNode> {
  const given = Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== null));
  const variables: Record<string, string | undefined> = { PATH: process.env.PATH, ...testNodeEnv(id, redisUrl, prefix, { LOG_LEVEL: "info", ...given }) };
  for (const [name, value] of Object.entries(env)) if (value === null) delete variables[name];
  const child = spawn(process.execPath, [SERVER], {
    env: variables,
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
