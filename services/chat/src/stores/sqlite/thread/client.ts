/**
 * The embedded node's SQLite stores, run on a thread of their own (host.ts) so that no read or
 * commit of the file ever holds the event loop. better-sqlite3 is synchronous: a commit is a write
 * to the WAL, and on a busy disk that write blocked the node's loop for up to 192 ms (a probe
 * outside Sala; docs/BENCHMARKS.md, session 15), every socket of the node waiting with it. On the
 * thread, such a commit delays the answers that wait for the file, and nothing else.
 *
 * The event loop holds stand-ins (`remote`) whose every method is one message to the thread and one
 * answer back; the thread's own loop batches what arrives together (the room store's group commit).
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import session, { type SessionData } from "express-session";
import { RateLimiterRes } from "rate-limiter-flexible";
import type { Limiter, LimiterOptions } from "../../../auth/throttle.js";
import type { StoreThreadData, LimiterAnswer, LimiterMethod, LimiterState } from "./host.js";
import { deserializeError, type Answer, type Call, type EventLog, type LogLine, type SerializedError } from "./wire.js";

type Pending = { resolve: (value: unknown) => void; reject: (error: Error) => void };

export class SqliteThread {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private lost: Error | null = null;
  private stopping = false;

  private constructor(
    private readonly worker: Worker,
    private readonly log: EventLog,
  ) {
    worker.on("message", (message: Answer | LogLine | "stopped") => this.receive(message));
    worker.on("error", (error) => this.lose(error.message));
    worker.on("exit", (code) => this.lose(`exit ${code}`));
  }

  /** Starts the thread on `data.file` (already opened once by the node: its schema checked) and waits for it to be ready. */
  static start(data: StoreThreadData, log: EventLog): Promise<SqliteThread> {
    const worker = startWorker(data);
    return new Promise((resolve, reject) => {
      const first = (message: "ready" | { failed: SerializedError }) => {
        worker.off("error", failed);
        if (message === "ready") resolve(new SqliteThread(worker, log));
        else {
          void worker.terminate();
          reject(deserializeError(message.failed));
        }
      };
      const failed = (error: Error) => reject(error);
      worker.once("message", first);
      worker.once("error", failed);
    });
  }

  /** Calls `target.method(...args)` on the thread. */
  call(target: string, method: string, args: unknown[]): Promise<unknown> {
    if (this.lost) return Promise.reject(this.lost);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, target, method, args } satisfies Call);
    });
  }

  /** A stand-in for the thread's `target`: each of its methods, called here, runs there. */
  remote<T extends object>(target: string): T {
    return new Proxy({} as T, {
      // Not "then": a stand-in must not look like a promise to `await`.
      get: (_, method) => (typeof method === "string" && method !== "then" ? (...args: unknown[]) => this.call(target, method, args) : undefined),
    });
  }

  /** A throttle's limiter whose counts live in the file (auth/throttle.ts's `remote` backend). */
  limiter(options: LimiterOptions): Limiter {
    const run = async (method: LimiterMethod, ...args: unknown[]) => {
      const answer = (await this.call("limiters", "run", [options, method, args])) as LimiterAnswer;
      if ("limited" in answer) throw toRes(answer.limited);
      if ("value" in answer) return answer.value;
      return answer.state && toRes(answer.state);
    };
    return {
      consume: (key) => run("consume", key) as Promise<RateLimiterRes>,
      reward: (key, points) => run("reward", key, points) as Promise<RateLimiterRes>,
      delete: (key) => run("delete", key) as Promise<boolean>,
      block: (key, seconds) => run("block", key, seconds) as Promise<RateLimiterRes>,
      get: (key) => run("get", key) as Promise<RateLimiterRes | null>,
    };
  }

  /** Waits for the answers on their way, then closes the thread's stores, its checkpointer and the file. */
  async stop(): Promise<void> {
    if (this.lost) return;
    const deadline = Date.now() + 5000;
    while (this.pending.size > 0 && !this.lost && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    this.stopping = true;
    const stopped = new Promise((resolve) => this.worker.once("exit", resolve));
    this.worker.postMessage("stop");
    await Promise.race([stopped, new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
    await this.worker.terminate();
  }

  private receive(message: Answer | LogLine | "stopped"): void {
    if (message === "stopped") return;
    if ("log" in message) {
      this.log[message.log](message.fields, message.msg);
      return;
    }
    const pending = this.pending.get(message.id);
    if (!pending) return;
    this.pending.delete(message.id);
    if ("error" in message) pending.reject(deserializeError(message.error));
    else pending.resolve(message.value);
  }

  /** The thread is gone (a bug: the host answers every call, errors included): every call fails from now on. */
  private lose(why: string): void {
    if (this.lost) return;
    this.lost = new Error(`the SQLite store thread stopped (${why})`);
    if (!this.stopping) this.log.error({ event: "store_thread_lost", err: why }, "the SQLite store thread stopped: the node cannot reach its data");
    for (const { reject } of this.pending.values()) reject(this.lost);
    this.pending.clear();
  }
}

function toRes(state: LimiterState): RateLimiterRes {
  return new RateLimiterRes(state.remainingPoints, state.msBeforeNext, state.consumedPoints, state.isFirstInDuration);
}

/**
 * The thread runs entry.js beside this module in dist/; from the TypeScript sources (the tests run
 * the node in-process from them) tsx compiles entry.ts and what it imports on the thread.
 */
function startWorker(data: StoreThreadData): Worker {
  const built = new URL("./entry.js", import.meta.url);
  if (existsSync(fileURLToPath(built))) return new Worker(built, { workerData: data });
  // tsx's ESM API (its package's "./esm/api" import entry): register() adds its hooks on this thread.
  const manifest = createRequire(import.meta.url).resolve("tsx/package.json");
  const { exports } = JSON.parse(readFileSync(manifest, "utf8")) as { exports: Record<string, { import: { default: string } }> };
  const tsx = pathToFileURL(join(dirname(manifest), exports["./esm/api"]!.import.default)).href;
  const source = new URL("./entry.ts", import.meta.url).href;
  const boot = `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(source)}); })`;
  return new Worker(boot, { eval: true, workerData: data });
}

/**
 * express-session's store, answered by the thread's SqliteSessionStore. A session's data crosses as
 * JSON (what the store keeps): its cookie is a class whose expiry a structured clone would drop.
 */
export class RemoteSessionStore extends session.Store {
  constructor(private readonly thread: SqliteThread) {
    super();
  }

  get(sid: string, callback: (error: unknown, data?: SessionData | null) => void): void {
    this.thread.call("sessions", "get", [sid]).then((data) => callback(null, data as SessionData | null), callback);
  }

  set(sid: string, data: SessionData, callback?: (error?: unknown) => void): void {
    this.thread.call("sessions", "set", [sid, asJson(data)]).then(() => callback?.(), (error) => callback?.(error));
  }

  override touch(sid: string, data: SessionData, callback?: (error?: unknown) => void): void {
    this.thread.call("sessions", "touch", [sid, asJson(data)]).then(() => callback?.(), (error) => callback?.(error));
  }

  destroy(sid: string, callback?: (error?: unknown) => void): void {
    this.thread.call("sessions", "destroy", [sid]).then(() => callback?.(), (error) => callback?.(error));
  }

  /** The session's idle timeout starts again; false when it is no longer in the store (http/session.ts's renew). */
  renew(sid: string, cookie: SessionData["cookie"]): Promise<boolean> {
    return this.thread.call("sessions", "renew", [sid, asJson(cookie)]) as Promise<boolean>;
  }
}

function asJson<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}
