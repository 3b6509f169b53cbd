import type { Static, TSchema } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { ErrorCode, type Ack, type ErrorBody } from "@sala/protocol";
import { RateLimiterMemory, RateLimiterRes } from "rate-limiter-flexible";
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

/**
 * The edge of the socket protocol. Every incoming event passes here before any handler runs:
 * unknown events, missing acks, extra arguments and payloads that fail their schema are answered
 * with an error ack (or dropped when there is no ack to answer) and change nothing; each socket
 * has an event budget per second. Handlers see only valid payloads, and whatever they throw
 * becomes an error ack with a known code, never a crash.
 */
export class EventGate {
  private readonly limiter: RateLimiterMemory;
  /** Events being handled right now: a draining node waits for them before closing sockets. */
  private inFlight = 0;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly table: EventTable,
    eventsPerSecond: number,
    private readonly logger: Logger,
    private readonly observe: { answered(event: string, seconds: number): void; unavailable(): void } = { answered() {}, unavailable() {} },
  ) {
    this.limiter = new RateLimiterMemory({ points: eventsPerSecond, duration: 1 });
  }

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
      void this.unknownEvent(socket, typeof last === "function" ? (last as AckFn) : null);
    });
  }

  /** Unknown events spend the socket's budget too, so they cannot be used to flood. */
  private async unknownEvent(socket: SalaSocket, ack: AckFn | null): Promise<void> {
    if (!(await this.withinBudget(socket, ack))) return;
    if (ack) reply(ack, { code: ErrorCode.UNKNOWN_EVENT, message: "Unknown event" });
  }

  /** Spends one event of the socket's budget; answers RATE_LIMITED and returns false when spent. */
  private async withinBudget(socket: SalaSocket, ack: AckFn | null): Promise<boolean> {
    try {
      await this.limiter.consume(socket.id);
      return true;
    } catch (rejection) {
      if (!(rejection instanceof RateLimiterRes)) throw rejection;
      if (ack) reply(ack, { code: ErrorCode.RATE_LIMITED, message: "Too many events; slow down", retryAfterMs: rejection.msBeforeNext });
      return false;
    }
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
    if (!(await this.withinBudget(socket, ack))) return;
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
