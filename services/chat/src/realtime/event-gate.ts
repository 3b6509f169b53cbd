import type { Static, TSchema } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { ErrorCode, type Ack, type ErrorBody } from "@sala/protocol";
import { toErrorBody } from "../errors.js";
import type { Logger } from "../logger.js";
import type { SalaSocket } from "./types.js";

/** One client→server event: its payload schema and what it does with a valid payload. */
export interface EventSpec {
  check(payload: unknown): boolean;
  /** Signals like `typing` may come without an ack; requests may not. */
  ackOptional: boolean;
  run(socket: SalaSocket, payload: unknown): Promise<object>;
}

export function defineEvent<S extends TSchema>(
  schema: S,
  run: (socket: SalaSocket, payload: Static<S>) => Promise<object>,
  options: { ackOptional?: boolean } = {},
): EventSpec {
  const compiled = TypeCompiler.Compile(schema);
  return {
    check: (payload) => compiled.Check(payload),
    ackOptional: options.ackOptional ?? false,
    run: (socket, payload) => run(socket, payload as Static<S>),
  };
}

export type EventTable = Record<string, EventSpec>;

type AckFn = (answer: Ack) => void;

/** The event budget's window: `eventsPerSecond` events per socket in each. */
const BUDGET_WINDOW_MS = 1000;

/** What one socket has spent of its event budget in its current window. */
interface Spent {
  windowStart: number;
  events: number;
}

/**
 * The edge of the socket protocol. Every incoming event passes here before any handler runs:
 * unknown events, missing acks, extra arguments and payloads that fail their schema are answered
 * with an error ack (or dropped when there is no ack to answer) and change nothing; each socket
 * has an event budget per second. Handlers see only valid payloads, and whatever they throw
 * becomes an error ack with a known code, never a crash.
 */
export class EventGate {
  /**
   * Each socket's budget, kept with the socket (gone with it) and updated in place. It was a
   * rate-limiter-flexible memory limiter keyed by socket id: a promise per event, and per socket
   * and second a record with an expiry timer that outlived young-generation collections; about
   * 8 % of the CPU per message in 4-member rooms (docs/BENCHMARKS.md). Limits shared across
   * nodes (logins, room passwords) still use the library, in Redis.
   */
  private readonly spent = new WeakMap<SalaSocket, Spent>();
  /** Events being handled right now: a draining node waits for them before closing sockets. */
  private inFlight = 0;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly table: EventTable,
    private readonly eventsPerSecond: number,
    private readonly logger: Logger,
    private readonly observe: { answered(event: string, seconds: number): void; unavailable(): void } = { answered() {}, unavailable() {} },
  ) {}

  /**
   * One catch-all listener per socket rather than one per event: a socket sitting idle then holds
   * a single closure, not one for each of the protocol's events (memory per idle socket).
   * Socket.IO hands catch-all listeners the ack function last, as it does `on` listeners.
   */
  attach(socket: SalaSocket): void {
    socket.onAny((event: unknown, ...args: unknown[]) => {
      const spec = typeof event === "string" && Object.hasOwn(this.table, event) ? this.table[event] : undefined;
      if (spec) {
        void this.dispatch(socket, event as string, spec, args);
        return;
      }
      const last = args.at(-1);
      this.unknownEvent(socket, typeof last === "function" ? (last as AckFn) : null);
    });
  }

  /** Unknown events spend the socket's budget too, so they cannot be used to flood. */
  private unknownEvent(socket: SalaSocket, ack: AckFn | null): void {
    if (!this.withinBudget(socket, ack)) return;
    if (ack) reply(ack, { code: ErrorCode.UNKNOWN_EVENT, message: "Unknown event" });
  }

  /**
   * Spends one event of the socket's budget (a fixed window that starts at the first event after
   * the previous one ended); answers RATE_LIMITED and returns false when it is spent.
   */
  private withinBudget(socket: SalaSocket, ack: AckFn | null): boolean {
    const now = Date.now();
    let spent = this.spent.get(socket);
    if (!spent) this.spent.set(socket, (spent = { windowStart: now, events: 0 }));
    else if (now - spent.windowStart >= BUDGET_WINDOW_MS) {
      spent.windowStart = now;
      spent.events = 0;
    }
    spent.events += 1;
    if (spent.events <= this.eventsPerSecond) return true;
    if (ack) reply(ack, { code: ErrorCode.RATE_LIMITED, message: "Too many events; slow down", retryAfterMs: spent.windowStart + BUDGET_WINDOW_MS - now });
    return false;
  }

  private async dispatch(socket: SalaSocket, event: string, spec: EventSpec, args: unknown[]): Promise<void> {
    // Counted from the moment the event arrives: a draining node waits for every event it has
    // received, not only those already past the budget check.
    this.inFlight += 1;
    const started = process.hrtime.bigint();
    try {
      await this.handle(socket, event, spec, args);
      this.observe.answered(event, Number(process.hrtime.bigint() - started) / 1e9);
    } finally {
      this.inFlight -= 1;
      if (this.inFlight === 0) for (const wake of this.idleWaiters.splice(0)) wake();
    }
  }

  private async handle(socket: SalaSocket, event: string, spec: EventSpec, args: unknown[]): Promise<void> {
    const last = args.at(-1);
    const ack = typeof last === "function" ? (last as AckFn) : null;
    const params = ack ? args.slice(0, -1) : args;
    if (!ack && !spec.ackOptional) return; // nobody to answer: a request without an ack is dropped
    const refuse = (error: ErrorBody) => ack && reply(ack, error);
    if (!this.withinBudget(socket, ack)) return;
    if (params.length !== 1 || !spec.check(params[0])) {
      refuse({ code: ErrorCode.BAD_REQUEST, message: `Invalid payload for "${event}"` });
      return;
    }
    try {
      const data = await spec.run(socket, params[0]);
      if (ack) ack({ ok: true, ...data });
    } catch (error) {
      const body = toErrorBody(error);
      if (body.code === ErrorCode.INTERNAL) {
        this.logger.error({ event: "handler_failed", socketEvent: event, user: socket.data.username, err: error }, "event handler failed");
      } else if (body.code === ErrorCode.UNAVAILABLE) {
        this.observe.unavailable();
        this.logger.warn({ event: "handler_unavailable", socketEvent: event, err: (error as Error).message }, "shared state unavailable");
      }
      refuse(body);
    }
  }

  /** Resolves once no event is being handled (or after `timeoutMs`, whichever comes first). */
  idle(timeoutMs: number): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.idleWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

function reply(ack: AckFn, error: ErrorBody): void {
  ack({ ok: false, error });
}
