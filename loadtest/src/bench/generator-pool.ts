/**
 * The socket generator processes of a scale bench (socket-generator.ts), forked from this one:
 * each holds a share of the sockets (under this machine's 20,000 open files per process), and
 * answers requests (generator-protocol.ts) that the bench sends to one or all of them.
 */
import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { stopProcess } from "@sala/cluster/processes";
import type { FromGenerator, GeneratorAnswer, GeneratorRequest } from "./generator-protocol.js";

const ENTRY = fileURLToPath(new URL("./socket-generator.js", import.meta.url));
/** Sockets one generator may hold: well under the 20,000 open files a process gets here. */
export const SOCKETS_PER_GENERATOR = 15_000;

interface Waiting {
  resolve(answer: unknown): void;
  reject(error: Error): void;
}

class Generator {
  private nextId = 0;
  private readonly waiting = new Map<number, Waiting>();
  /** Its latest progress while opening sockets. */
  progress = { opened: 0, errors: 0 };

  constructor(readonly child: ChildProcess) {
    child.on("message", (message: FromGenerator) => {
      if ("progress" in message) {
        this.progress = message.progress;
        return;
      }
      const waiting = this.waiting.get(message.id);
      this.waiting.delete(message.id);
      if (message.ok) waiting?.resolve(message.answer);
      else waiting?.reject(new Error(`generator ${child.pid}: ${message.error}`));
    });
    child.once("exit", (code, signal) => {
      for (const waiting of this.waiting.values()) waiting.reject(new Error(`generator ${child.pid} exited (${signal ?? code})`));
      this.waiting.clear();
    });
  }

  request<R extends GeneratorRequest>(request: R): Promise<GeneratorAnswer<R>> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (answer: unknown) => void, reject });
      this.child.send({ id, request });
    });
  }
}

export class GeneratorPool {
  private constructor(readonly generators: Generator[]) {}

  /** Forks `count` generators; `heapMb`: their V8 heap limit. */
  static start(count: number, heapMb = 2048): GeneratorPool {
    const generators = Array.from(
      { length: count },
      () => new Generator(fork(ENTRY, [], { execArgv: [`--max-old-space-size=${heapMb}`], stdio: ["ignore", "inherit", "inherit", "ipc"] })),
    );
    return new GeneratorPool(generators);
  }

  get size(): number {
    return this.generators.length;
  }

  get pids(): number[] {
    return this.generators.map((generator) => generator.child.pid!);
  }

  /** Opened and failed so far, over all generators (while they open sockets). */
  get progress(): { opened: number; errors: number } {
    return this.generators.reduce((sum, g) => ({ opened: sum.opened + g.progress.opened, errors: sum.errors + g.progress.errors }), { opened: 0, errors: 0 });
  }

  /** Sends each generator its request (`requestFor(index)`; null: none) and waits for all the answers. */
  async each<R extends GeneratorRequest>(requestFor: (index: number) => R | null): Promise<Array<GeneratorAnswer<R>>> {
    const answers: Array<Promise<GeneratorAnswer<R>>> = [];
    for (const [index, generator] of this.generators.entries()) {
      const request = requestFor(index);
      if (request) {
        generator.progress = { opened: 0, errors: 0 };
        answers.push(generator.request(request));
      }
    }
    return Promise.all(answers);
  }

  all<R extends GeneratorRequest>(request: R): Promise<Array<GeneratorAnswer<R>>> {
    return this.each(() => request);
  }

  async stop(): Promise<void> {
    await Promise.allSettled(this.generators.map((generator) => stopProcess(generator.child, "SIGTERM", 5000)));
  }
}
