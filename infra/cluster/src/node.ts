import { fileURLToPath } from "node:url";
import type { ChildProcess } from "node:child_process";
import { spawnLogged, stopProcess, waitForLogLine } from "./processes.js";

/** The built node program (npm run build). */
export const SERVER_ENTRY = fileURLToPath(new URL("../../../services/chat/dist/server.js", import.meta.url));

/** One Sala node as a process; restartable on the same port. */
export class NodeProcess {
  private child: ChildProcess | null = null;
  private boundPort: number;

  constructor(
    readonly id: string,
    port: number,
    private readonly env: Record<string, string>,
    /** Node.js flags for the process (e.g. `--cpu-prof`, which NODE_OPTIONS does not allow). */
    private readonly execArgv: string[] = [],
  ) {
    this.boundPort = port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.boundPort}`;
  }

  get port(): number {
    return this.boundPort;
  }

  get process(): ChildProcess {
    if (!this.child) throw new Error(`node ${this.id} is not running`);
    return this.child;
  }

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  async start(): Promise<void> {
    const child = spawnLogged(process.execPath, [...this.execArgv, SERVER_ENTRY], {
      PATH: process.env.PATH,
      HOST: "127.0.0.1",
      PORT: String(this.boundPort),
      NODE_ID: this.id,
      LOG_LEVEL: "info",
      ...this.env,
    });
    this.child = child;
    this.boundPort = await waitForLogLine(
      child,
      (entry) => (entry.event === "node_started" && typeof entry.port === "number" ? entry.port : undefined),
      20_000,
      `node ${this.id} start`,
    );
  }

  /** SIGTERM: the node drains (its clients move to other nodes) and exits. */
  async stop(): Promise<void> {
    if (this.child) await stopProcess(this.child, "SIGTERM");
    this.child = null;
  }

  /** SIGKILL: a crash, no cleanup at all. */
  async kill(): Promise<void> {
    if (this.child) await stopProcess(this.child, "SIGKILL");
    this.child = null;
  }
}
