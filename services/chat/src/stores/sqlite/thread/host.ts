/**
 * The store thread's side: it owns the node's connection to the SQLite file and every object that
 * reads or writes it — the stores, express-session's store, the throttles' limiters, the sweeps
 * and the WAL checkpointer — and answers the event loop's calls (client.ts) one message each.
 */
import { existsSync } from "node:fs";
import type { MessagePort } from "node:worker_threads";
import type { SessionData } from "express-session";
import { RateLimiterRes, type RateLimiterAbstract } from "rate-limiter-flexible";
import { sqliteLimiter, ThrottleSweeper, type LimiterOptions } from "../../../auth/throttle.js";
import { Revision } from "../../memory/revision.js";
import { WalCheckpointer } from "../checkpointer.js";
import { openDatabase } from "../database.js";
import { createSqliteTables } from "../index.js";
import { SqliteSessionStore } from "../session-store.js";
import { Outbox, serializeError, type Answer, type Call, type EventLog, type LogLine } from "./wire.js";

export interface StoreThreadData {
  file: string;
  /** The lobby revision's shared counter (Revision.buffer). */
  revision: SharedArrayBuffer;
  messageIdWindowSec: number;
  sessionIdleMs: number;
  /** A restart's thread (client.ts): the file must still be there, never made anew. */
  mustExist?: boolean;
}

/** The fields of a limiter's answer: a RateLimiterRes keeps them behind getters, which a structured clone leaves out. */
export interface LimiterState {
  remainingPoints: number;
  msBeforeNext: number;
  consumedPoints: number;
  isFirstInDuration: boolean;
}

/** A limiter method's answer: a state, a plain value (delete's boolean), or the library's rejection of a consume. */
export type LimiterAnswer = { state: LimiterState | null } | { value: unknown } | { limited: LimiterState };

export type LimiterMethod = "consume" | "reward" | "delete" | "block" | "get";

function stateOf(res: RateLimiterRes): LimiterState {
  return { remainingPoints: res.remainingPoints, msBeforeNext: res.msBeforeNext, consumedPoints: res.consumedPoints, isFirstInDuration: res.isFirstInDuration };
}

/** The throttles' limiters over the rate_limits table, made on their first use by their key prefix. */
class LimiterHost {
  private readonly limiters = new Map<string, RateLimiterAbstract>();

  constructor(private readonly make: (options: LimiterOptions) => RateLimiterAbstract) {}

  async run(options: LimiterOptions, method: LimiterMethod, args: unknown[]): Promise<LimiterAnswer> {
    const id = `${options.keyPrefix}|${options.points}|${options.duration}`;
    let limiter = this.limiters.get(id);
    if (!limiter) this.limiters.set(id, (limiter = this.make(options)));
    try {
      const result: unknown = await (limiter[method] as (...args: unknown[]) => Promise<unknown>)(...args);
      if (result instanceof RateLimiterRes) return { state: stateOf(result) };
      return result === null ? { state: null } : { value: result };
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) return { limited: stateOf(rejection) };
      throw rejection;
    }
  }
}

/**
 * express-session's store for the event loop's RemoteSessionStore: the work itself, at once (the
 * callback API answers a turn later; here the answer goes with the rest of this turn's).
 */
class SessionHost {
  constructor(private readonly store: SqliteSessionStore) {}

  get(sid: string): SessionData | null {
    return this.store.read(sid);
  }

  set(sid: string, data: SessionData): void {
    this.store.write(sid, data);
  }

  touch(sid: string, data: SessionData): void {
    this.store.renewNow(sid, data.cookie);
  }

  destroy(sid: string): void {
    this.store.forget(sid);
  }

  renew(sid: string, cookie: SessionData["cookie"]): Promise<boolean> {
    return this.store.renew(sid, cookie);
  }
}

/** What the thread says once it serves: each target's methods (the event loop's stand-ins offer those, and nothing else). */
export interface Ready {
  ready: Record<string, string[]>;
}

/** An object's own methods and its classes' (not Object's: no `constructor`, `toString`, …). */
function methodsOf(object: object): string[] {
  const names = new Set<string>();
  for (let level = object; level && level !== Object.prototype; level = Object.getPrototypeOf(level) as object) {
    for (const name of Object.getOwnPropertyNames(level)) {
      if (name !== "constructor" && typeof (object as Record<string, unknown>)[name] === "function") names.add(name);
    }
  }
  return [...names];
}

/** Opens the file and answers calls on `port` until told "stop"; says "ready" first, or why it could not start. */
export function serveStores(port: MessagePort, data: StoreThreadData): void {
  const log: EventLog = {
    warn: (fields, msg) => port.postMessage({ log: "warn", fields, msg } satisfies LogLine),
    error: (fields, msg) => port.postMessage({ log: "error", fields, msg } satisfies LogLine),
  };
  let db;
  try {
    if (data.mustExist && !existsSync(data.file)) throw new Error(`the SQLite file ${data.file} is gone`);
    db = openDatabase(data.file);
  } catch (error) {
    port.postMessage({ failed: serializeError(error) });
    return;
  }
  const checkpointer = new WalCheckpointer(db, data.file, log);
  const tables = createSqliteTables(db, new Revision(data.revision), { messageIdWindowSec: data.messageIdWindowSec });
  const sessions = new SqliteSessionStore(db, {
    idleMs: data.sessionIdleMs,
    onSweepError: (error) => log.warn({ event: "session_sweep_failed", err: (error as Error).message }, "could not clear expired sessions"),
  });
  const sweeper = new ThrottleSweeper(db, (error) => log.warn({ event: "throttle_sweep_failed", err: (error as Error).message }, "could not clear expired throttle counts"));
  const sqlite = db;
  const targets: Record<string, object> = {
    ...tables,
    lobbyRooms: tables.rooms,
    sessions: new SessionHost(sessions),
    limiters: new LimiterHost((options) => sqliteLimiter(sqlite, options)),
  };
  const methods = Object.fromEntries(Object.entries(targets).map(([name, object]) => [name, methodsOf(object)]));
  const callable = new Map(Object.entries(methods).map(([name, list]) => [name, new Set(list)]));

  // Answers go once the microtasks that settle them have run: a group commit's answers all settle
  // in one go, and wait no further turn of this thread's loop.
  const answers = new Outbox<Answer>(
    (batch) => port.postMessage(batch),
    (answer, error) => port.postMessage([{ id: answer.id, error: serializeError(error) }]),
    queueMicrotask,
  );
  port.on("message", (message: Call[] | "stop") => {
    if (message === "stop") {
      sessions.close();
      sweeper.stop();
      void checkpointer.stop().finally(() => {
        sqlite.close();
        port.postMessage("stopped");
        port.close();
      });
      return;
    }
    for (const call of message) void answer(call);
  });

  async function answer({ id, target, method, args }: Call): Promise<void> {
    try {
      const object = targets[target] as Record<string, unknown> | undefined;
      if (!object || !callable.get(target)!.has(method)) throw new Error(`the store thread has no ${target}.${method}`);
      answers.push({ id, value: await (object[method] as (...args: unknown[]) => unknown).apply(object, args) });
    } catch (error) {
      answers.push({ id, error: serializeError(error) });
    }
  }

  port.postMessage({ ready: methods } satisfies Ready);
}
