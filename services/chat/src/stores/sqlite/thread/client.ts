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
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import session, { type SessionData } from "express-session";
import { RateLimiterRes } from "rate-limiter-flexible";
import type { Limiter, LimiterOptions } from "../../../auth/throttle.js";
import type { LimiterAnswer, LimiterMethod, LimiterState, Ready, StoreThreadData } from "./host.js";
import { deserializeError, Outbox, type Answer, type Call, type EventLog, type LogLine, type SerializedError } from "./wire.js";

type Pending = { resolve: (value: unknown) => void; reject: (error: Error) => void };

/** Calls waiting for the thread at most: past this the node is overloaded (the disk stalls), and says so at once. */
const MAX_IN_FLIGHT = 20_000;

/** The store thread cannot answer: gone (a bug), stopped, or overloaded. Mapped to UNAVAILABLE (errors.ts). */
export class StoreThreadUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StoreThreadUnavailableError";
  }
}

/** A thread serving the file: its worker, and each target's methods. */
interface Serving {
  worker: Worker;
  methods: Record<string, string[]>;
}

export class SqliteThread {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private worker!: Worker;
  private methods!: Record<string, string[]>;
  /** Set from a thread's loss until its successor serves. */
  private down: Error | null = null;
  private restarting: Promise<void> | null = null;
  /** Ends a restart's wait between attempts (stop). */
  private wake: (() => void) | null = null;
  /** The attempts the last restart took, and when it served: a thread lost again soon after waits on. */
  private attempts = 0;
  private restartedAt = 0;
  private stopping = false;
  private readonly calls: Outbox<Call>;

  private constructor(
    serving: Serving,
    private readonly data: StoreThreadData,
    private readonly log: EventLog,
  ) {
    this.attach(serving);
    this.calls = new Outbox(
      (calls) => this.worker.postMessage(calls),
      (call, error) => this.settle({ id: call.id, error: { name: "DataCloneError", message: (error as Error).message } }),
    );
  }

  /** Starts the thread on `data.file` (already opened once by the node: its schema checked) and waits for it to serve. */
  static async start(data: StoreThreadData, log: EventLog): Promise<SqliteThread> {
    return new SqliteThread(await serve(data, log), data, log);
  }

  /** Calls `target.method(...args)` on the thread. */
  call(target: string, method: string, args: unknown[]): Promise<unknown> {
    if (this.down) return Promise.reject(this.down);
    if (this.stopping) return Promise.reject(new StoreThreadUnavailableError("the node is stopping"));
    if (this.pending.size >= MAX_IN_FLIGHT) return Promise.reject(new StoreThreadUnavailableError(`${MAX_IN_FLIGHT} calls already wait for the SQLite store thread`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.calls.push({ id, target, method, args });
    });
  }

  /** A stand-in for the thread's `target`: each of its methods, called here, runs there; nothing else is there. */
  remote<T extends object>(target: string): T {
    const methods = new Map((this.methods[target] ?? []).map((method) => [method, (...args: unknown[]) => this.call(target, method, args)]));
    return new Proxy({} as T, {
      get: (_, key) => (typeof key === "string" ? methods.get(key) : undefined),
      has: (_, key) => typeof key === "string" && methods.has(key),
    });
  }

  /** Throws while no thread serves (readiness: /readyz). */
  assertAvailable(): void {
    if (this.down) throw this.down;
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

  /**
   * Refuses new calls, waits (at most 2 s) for the answers on their way, then has the thread close
   * its stores, its checkpointer and the file (at most 3 s more: the node's whole stop has 10).
   */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.restarting;
    if (this.down) return;
    const worker = this.worker;
    const exited = new Promise((resolve) => worker.once("exit", resolve));
    const deadline = Date.now() + 2000;
    while (this.pending.size > 0 && !this.down && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    if (!this.down) worker.postMessage("stop");
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 3000).unref())]);
    await worker.terminate();
  }

  private attach(serving: Serving): void {
    const { worker } = serving;
    this.worker = worker;
    this.methods = serving.methods;
    worker.on("message", (message: Answer[] | LogLine | "stopped") => this.receive(message));
    worker.on("messageerror", (error) => this.lose(worker, `an answer could not be read: ${error.message}`));
    worker.on("error", (error) => this.lose(worker, error.message));
    worker.on("exit", (code) => this.lose(worker, `exit ${code}`));
  }

  private receive(message: Answer[] | LogLine | "stopped"): void {
    if (message === "stopped") return;
    if (Array.isArray(message)) message.forEach((answer) => this.settle(answer));
    else this.log[message.log](message.fields, message.msg);
  }

  private settle(answer: Answer): void {
    const pending = this.pending.get(answer.id);
    if (!pending) return;
    this.pending.delete(answer.id);
    if ("error" in answer) pending.reject(deserializeError(answer.error));
    else pending.resolve(answer.value);
  }

  /**
   * The thread is gone (a bug: the host answers every call, errors included). The calls it had
   * fail UNAVAILABLE, so do new ones (and /readyz) until a new thread serves the file: what was
   * committed is there; the answers in flight are lost (a client's retry with the same message id
   * is answered from the file for a room that keeps history; in one that keeps none, it is posted
   * again).
   */
  private lose(worker: Worker, why: string): void {
    if (worker !== this.worker || this.down) return;
    this.down = new StoreThreadUnavailableError(`the SQLite store thread stopped (${why})`);
    for (const { reject } of this.pending.values()) reject(this.down);
    this.pending.clear();
    if (this.stopping) {
      void worker.terminate();
      return;
    }
    this.log.error({ event: "store_thread_lost", err: why }, "the SQLite store thread stopped: starting a new one");
    this.restarting = this.restart(worker).finally(() => (this.restarting = null));
  }

  /**
   * Starts a new thread on the same file once the old one has ended (so that it commits nothing
   * more), again and again until one serves: waiting 1, 2, 4 … 30 s between attempts, and going on
   * from the last restart's wait when the thread is lost again within a minute of it.
   */
  private async restart(lost: Worker): Promise<void> {
    await lost.terminate();
    let attempt = Date.now() - this.restartedAt < 60_000 ? this.attempts : 0;
    while (!this.stopping) {
      attempt++;
      if (attempt > 1) await this.pause(Math.min(30_000, 1000 * 2 ** (attempt - 2)));
      if (this.stopping) return;
      let serving: Serving;
      try {
        // The file it served, not a new one: a file gone (deleted under the node) stays an error.
        serving = await serve({ ...this.data, mustExist: true }, this.log);
      } catch (error) {
        if (!this.stopping) this.log.error({ event: "store_thread_restart_failed", attempt, err: (error as Error).message }, "could not start a new SQLite store thread (tried again)");
        continue;
      }
      if (this.stopping) {
        await serving.worker.terminate();
        return;
      }
      this.attach(serving);
      this.down = null;
      this.attempts = attempt;
      this.restartedAt = Date.now();
      this.log.warn({ event: "store_thread_restarted", attempt }, "a new SQLite store thread serves the file");
      return;
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

/** How long a new thread may take to open the file and say it serves. */
const SERVE_TIMEOUT_MS = 15_000;

/**
 * Starts a thread on `data.file` and waits for it to say it serves (or why it cannot). The caller
 * attaches its own listeners to the worker in the same turn (no event can come in between: each is
 * a task of its own).
 */
function serve(data: StoreThreadData, log: EventLog): Promise<Serving> {
  const worker = startWorker(data);
  return new Promise((resolve, reject) => {
    const timeout = setTimeout(() => {
      worker.off("message", first).off("error", failed).off("exit", exited);
      void worker.terminate();
      reject(new Error(`the SQLite store thread did not serve within ${SERVE_TIMEOUT_MS / 1000} s`));
    }, SERVE_TIMEOUT_MS);
    const first = (message: Ready | { failed: SerializedError } | LogLine) => {
      if ("log" in message) return log[message.log](message.fields, message.msg);
      clearTimeout(timeout);
      worker.off("message", first).off("error", failed).off("exit", exited);
      if ("ready" in message) return resolve({ worker, methods: message.ready });
      void worker.terminate();
      reject(deserializeError(message.failed));
    };
    const failed = (error: Error) => {
      clearTimeout(timeout);
      worker.off("message", first).off("exit", exited);
      reject(error);
    };
    const exited = (code: number) => {
      clearTimeout(timeout);
      worker.off("message", first).off("error", failed);
      reject(new Error(`the SQLite store thread exited (code ${code}) before it could serve`));
    };
    worker.on("message", first).once("error", failed).once("exit", exited);
  });
}

function toRes(state: LimiterState): RateLimiterRes {
  return new RateLimiterRes(state.remainingPoints, state.msBeforeNext, state.consumedPoints, state.isFirstInDuration);
}

/**
 * The thread runs entry.js beside this module in dist/; from the TypeScript sources (the tests run
 * the node in-process from them) tsx compiles entry.ts and what it imports on the thread.
 */
function startWorker(data: StoreThreadData): Worker {
  if (!import.meta.url.endsWith(".ts")) return new Worker(new URL("./entry.js", import.meta.url), { workerData: data });
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
    this.answer(this.thread.call("sessions", "get", [sid]) as Promise<SessionData | null>, callback);
  }

  set(sid: string, data: SessionData, callback?: (error?: unknown) => void): void {
    this.answer(this.thread.call("sessions", "set", [sid, asJson(data)]), callback);
  }

  override touch(sid: string, data: SessionData, callback?: (error?: unknown) => void): void {
    // The store renews with the cookie alone (SqliteSessionStore.touch): the rest need not cross.
    this.answer(this.thread.call("sessions", "touch", [sid, { cookie: asJson(data.cookie) }]), callback);
  }

  destroy(sid: string, callback?: (error?: unknown) => void): void {
    this.answer(this.thread.call("sessions", "destroy", [sid]), callback);
  }

  /** The session's idle timeout starts again; false when it is no longer in the store (http/session.ts's renew). */
  renew(sid: string, cookie: SessionData["cookie"]): Promise<boolean> {
    return this.thread.call("sessions", "renew", [sid, asJson(cookie)]) as Promise<boolean>;
  }

  /** Reports on a turn of its own, as express-session's stores do: what the callback throws is not this promise's. */
  private answer<T>(work: Promise<T>, callback: ((error: unknown, value?: T) => void) | undefined): void {
    work.then(
      (value) => setImmediate(() => callback?.(null, value)),
      (error: unknown) => setImmediate(() => callback?.(error)),
    );
  }
}

function asJson<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}
