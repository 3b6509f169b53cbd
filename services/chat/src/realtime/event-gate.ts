import type { Static, TSchema } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { ErrorCode, type Ack, type ErrorBody, type RequestAnswers, type RequestName, type RequestPayload } from "@sala/protocol";
import { Requests, type RequestSpec } from "@sala/protocol/schemas";
import { toErrorBody } from "../errors.js";
import type { Logger } from "../logger.js";
import type { SalaSocket } from "./types.js";

/** One client→server event as the gate runs it: its payload check and what it does with a valid one. */
export interface EventSpec {
  check(payload: unknown): boolean;
  /** Signals like `typing` may come without an ack; requests may not. */
  ackOptional: boolean;
  run(socket: SalaSocket, payload: unknown): Promise<object>;
}

/** The handler of request `E`: its schema is the protocol's (`Requests`), its answer `RequestAnswers[E]`. */
export interface RequestHandler<E extends RequestName> extends EventSpec {
  readonly event: E;
}

/** Every request's handler: app.ts's table must have one for each, under its own name. */
export type EventTable = { readonly [E in RequestName]: RequestHandler<E> };

/**
 * Handles request `event` with `run`, which gets the payload as the protocol's schema for it
 * types it (checked before `run` is called) and must answer what the protocol says it answers.
 */
export function defineEvent<E extends RequestName>(
  event: E,
  run: (socket: SalaSocket, payload: RequestPayload<E>) => Promise<RequestAnswers[E]>,
): RequestHandler<E> {
  const spec: RequestSpec = Requests[event];
  return { event, ...compileEvent(spec.payload, run as (socket: SalaSocket, payload: unknown) => Promise<object>, spec.ackOptional ?? false) };
}

/** The gate's view of any event: a compiled schema and a handler (tests build made-up events with it). */
export function compileEvent<S extends TSchema>(schema: S, run: (socket: SalaSocket, payload: Static<S>) => Promise<object>, ackOptional = false): EventSpec {
  const compiled = TypeCompiler.Compile(schema);
  return {
    check: (payload) => compiled.Check(payload),
    ackOptional,
    run: (socket, payload) => run(socket, payload as Static<S>),
  };
}

type AckFn = (answer: Ack) => void;

/** The event budget's window: `eventsPerSecond` events per socket in each. */
const BUDGET_WINDOW_MS = 1000;

/**
 * When a socket is flooding, and is disconnected, counting every frame it sends: FLOOD_FACTOR times
 * its budget within one window, or more than twice its budget (more refused than let through) in
 * OVER_BUDGET_WINDOWS windows in a row. A client that waits the retryAfterMs it is given never
 * comes near either.
 */
export const FloodRule = { FLOOD_FACTOR: 20, OVER_BUDGET_WINDOWS: 3 } as const;

/** What one socket has spent in its current window, and how its last windows went. */
interface Spent {
  windowStart: number;
  /** Every frame the connection received (events, acks, attachments): the flood rule's count. */
  frames: number;
  /** Every event (ack or not, known or not, valid or not): the RATE_LIMITED budget's count. */
  events: number;
  /** Consecutive windows, up to the previous one, whose frames went over twice the budget. */
  overWindows: number;
}

/** The engine.io packet, as far as the budget needs it. */
interface InboundPacket {
  type: string;
}

/**
 * The edge of the socket protocol. Every incoming event spends the socket's budget before anything
 * else looks at it (with or without an ack, known or not, valid or not); every incoming frame
 * counts towards flooding (binary attachments and stray acks included), and a socket that keeps
 * flooding is disconnected. Every event then passes here before any handler runs: unknown events,
 * missing acks, extra arguments and payloads that fail their schema are answered with an error ack
 * (or dropped when there is no ack to answer) and change nothing. Handlers see only valid
 * payloads, and whatever they throw becomes an error ack with a known code, never a crash.
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
    private readonly table: Readonly<Record<string, EventSpec>>,
    private readonly eventsPerSecond: number,
    private readonly logger: Logger,
    private readonly observe: { answered(event: string, seconds: number): void; unavailable(): void } = { answered() {}, unavailable() {} },
  ) {}

  /**
   * Frames are counted as engine.io receives them, before Socket.IO decodes them (an ack for
   * nothing or an attachment costs a frame too), for the flood rule. Events are counted as
   * Socket.IO hands them over, each one first, for the budget: with or without an ack, known or
   * not. (Socket.IO hands events over on the next tick, so several frames read at once are all
   * counted before the first of their events: hence two counts.) One catch-all listener per
   * socket rather than one per event: a socket sitting idle holds two closures, not one for each
   * of the protocol's events (memory per idle socket). Socket.IO hands catch-all listeners the
   * ack function last, as it does `on` listeners.
   */
  attach(socket: SalaSocket): void {
    socket.conn.on("packet", (packet: InboundPacket) => {
      if (packet.type === "message") this.spendFrame(socket);
    });
    socket.onAny((event: unknown, ...args: unknown[]) => {
      const last = args.at(-1);
      const ack = typeof last === "function" ? (last as AckFn) : null;
      if (!this.spendEvent(socket, ack)) return;
      const spec = typeof event === "string" && Object.hasOwn(this.table, event) ? this.table[event] : undefined;
      if (spec) void this.dispatch(socket, event as string, spec, ack, ack ? args.slice(0, -1) : args);
      else if (ack) reply(ack, { code: ErrorCode.UNKNOWN_EVENT, message: "Unknown event" });
    });
  }

  /**
   * The socket's current window (a fixed window that starts at the first frame or event after the
   * previous one ended); null when the window just ended shows the socket flooding (FloodRule),
   * which is then disconnected.
   */
  private window(socket: SalaSocket, now: number): Spent | null {
    let spent = this.spent.get(socket);
    if (!spent) this.spent.set(socket, (spent = { windowStart: now, frames: 0, events: 0, overWindows: 0 }));
    else if (now - spent.windowStart >= BUDGET_WINDOW_MS) {
      spent.overWindows = spent.frames > 2 * this.eventsPerSecond ? spent.overWindows + 1 : 0;
      if (spent.overWindows >= FloodRule.OVER_BUDGET_WINDOWS) {
        this.disconnectFlooder(socket, spent, "over budget window after window");
        return null;
      }
      // A quiet window in between breaks the run.
      if (now - spent.windowStart >= 2 * BUDGET_WINDOW_MS) spent.overWindows = 0;
      spent.windowStart = now;
      spent.frames = 0;
      spent.events = 0;
    }
    return spent;
  }

  /** Counts one frame; disconnects the socket when it floods within one window. */
  private spendFrame(socket: SalaSocket): void {
    const spent = this.window(socket, Date.now());
    if (!spent) return;
    spent.frames += 1;
    if (spent.frames >= FloodRule.FLOOD_FACTOR * this.eventsPerSecond) this.disconnectFlooder(socket, spent, "flood within one window");
  }

  private disconnectFlooder(socket: SalaSocket, spent: Spent, rule: string): void {
    if (!socket.connected) return;
    this.logger.warn(
      { event: "socket_flood_disconnected", user: socket.data.username, socket: socket.id, frames: spent.frames, budget: this.eventsPerSecond, rule },
      "socket disconnected: it kept sending past its event budget",
    );
    socket.disconnect(true);
  }

  /**
   * Spends one event of the socket's budget; answers RATE_LIMITED (to an event that has an ack)
   * and returns false when it is spent, or when the socket was just disconnected for flooding.
   */
  private spendEvent(socket: SalaSocket, ack: AckFn | null): boolean {
    const now = Date.now();
    const spent = this.window(socket, now);
    if (!spent) return false;
    spent.events += 1;
    if (spent.events <= this.eventsPerSecond) return true;
    if (ack) reply(ack, { code: ErrorCode.RATE_LIMITED, message: "Too many events; slow down", retryAfterMs: spent.windowStart + BUDGET_WINDOW_MS - now });
    return false;
  }

  private async dispatch(socket: SalaSocket, event: string, spec: EventSpec, ack: AckFn | null, params: unknown[]): Promise<void> {
    // Counted from the moment the event is let through: a draining node waits for every event it
    // has accepted.
    this.inFlight += 1;
    const started = process.hrtime.bigint();
    try {
      await this.handle(socket, event, spec, ack, params);
      this.observe.answered(event, Number(process.hrtime.bigint() - started) / 1e9);
    } finally {
      this.inFlight -= 1;
      if (this.inFlight === 0) for (const wake of this.idleWaiters.splice(0)) wake();
    }
  }

  private async handle(socket: SalaSocket, event: string, spec: EventSpec, ack: AckFn | null, params: unknown[]): Promise<void> {
    // Nobody to answer: a request without an ack is dropped (its frame has paid the budget).
    if (!ack && !spec.ackOptional) return;
    const refuse = (error: ErrorBody) => ack && reply(ack, error);
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
