/**
 * The machine side of a benchmark: pinning processes to cores (taskset) and reading their CPU
 * time and memory (pidusage), so CPU is counted from the server and Redis processes themselves.
 */
import { execFile } from "node:child_process";
import { cpus } from "node:os";
import { promisify } from "node:util";
import pidusage from "pidusage";

const run = promisify(execFile);

/** Pins every thread of `pid` to `cpuList` ("0", "1", "0,1"); false when taskset is missing or refuses. */
export async function pin(pid: number, cpuList: string): Promise<boolean> {
  try {
    await run("taskset", ["-a", "-cp", cpuList, String(pid)]);
    return true;
  } catch {
    return false;
  }
}

/** Total user + system CPU time (ms) the processes have used since they started. */
export async function cpuTimeMs(pids: number[]): Promise<number> {
  const stats = await pidusage(pids);
  return pids.reduce((sum, pid) => sum + (stats[pid]?.ctime ?? 0), 0);
}

export async function rssBytes(pid: number): Promise<number> {
  return (await pidusage(pid)).memory;
}

/** CPU time of `pids` between `start()` and `stop()`. */
export class CpuMeter {
  private startMs = 0;
  constructor(private readonly pids: number[]) {}

  async start(): Promise<void> {
    this.startMs = await cpuTimeMs(this.pids);
  }

  async stop(): Promise<number> {
    return (await cpuTimeMs(this.pids)) - this.startMs;
  }
}

export function machineDescription(): string {
  const list = cpus();
  return `${list.length} × ${list[0]?.model.trim() ?? "unknown CPU"}, Node ${process.version}`;
}
