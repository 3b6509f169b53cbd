/**
 * The machine side of a benchmark: pinning processes to cores (taskset) and reading their CPU
 * time and memory (pidusage), so CPU is counted from the server and Redis processes themselves.
 */
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
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

/**
 * Context switches (voluntary + involuntary) of the processes since they started, from
 * /proc/<pid>/status (Linux); NaN when one cannot be read. A process that sleeps between messages
 * is switched out and back in for each: at low rates, that (not the message's own work) is much of
 * a message's CPU on a shared core.
 */
export async function contextSwitches(pids: number[]): Promise<number> {
  let total = 0;
  for (const pid of pids) {
    const status = await readFile(`/proc/${pid}/status`, "utf8").catch(() => "");
    const count = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)$`, "m").exec(status)?.[1] ?? Number.NaN);
    total += count("voluntary_ctxt_switches") + count("nonvoluntary_ctxt_switches");
  }
  return total;
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
