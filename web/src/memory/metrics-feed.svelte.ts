/**
 * The /memory page's connection: its own Socket.IO socket (same origin, session cookie) that
 * subscribes to every node's health samples, on every (re)connection. The samples go into a
 * MetricsModel; once a second the feed forgets stale data and moves `now`, which is what the
 * page's components redraw on.
 */
import { io, type Socket } from "socket.io-client";
import {
  ErrorCode,
  type ClientToServerEvents,
  type ErrorBody,
  type MetricsSubscription,
  type ServerToClientEvents,
  type SignOutReason,
} from "@sala/protocol";
import { keepConnected, type ConnectionState } from "../lib/connection.js";
import { ClockOffset, DEFAULT_WINDOW_SEC, MetricsModel } from "./metrics-model.js";

type SalaSocket = Socket<ServerToClientEvents, ClientToServerEvents>;
type SubscribeAnswer = ({ ok: true } & MetricsSubscription) | { ok: false; error: ErrorBody };

const ACK_TIMEOUT_MS = 10_000;
const RETRY_MS = 3000;
const TICK_MS = 1000;

export class MetricsFeed {
  connection = $state<ConnectionState>("connecting");
  /** Why the subscription failed (FORBIDDEN for non-admins), or null. */
  error = $state<ErrorBody | null>(null);
  /** The nodes' clock, moved once a second and whenever samples came in bulk. */
  now = $state(0);
  /** Seconds of history the charts show (the server's setting, from the subscription). */
  windowSec = $state(DEFAULT_WINDOW_SEC);
  readonly model = new MetricsModel();

  private readonly offset = new ClockOffset();
  private readonly socket: SalaSocket;
  private readonly clock: ReturnType<typeof setInterval>;
  private stopKeeping: () => void = () => {};
  private retry: ReturnType<typeof setTimeout> | null = null;
  private ended = false;

  /** `onSessionEnded` is called once the session is gone, with the server's reason when it gave one. */
  constructor(private readonly onSessionEnded: (reason?: SignOutReason) => void) {
    this.socket = io({ transports: ["websocket"], withCredentials: true });
    this.listen();
    this.clock = setInterval(() => this.tick(), TICK_MS);
  }

  close(): void {
    clearInterval(this.clock);
    this.stopKeeping();
    if (this.retry) clearTimeout(this.retry);
    this.socket.close();
  }

  private listen(): void {
    const socket = this.socket;
    this.stopKeeping = keepConnected(socket, {
      state: (state) => (this.connection = state),
      connected: () => void this.subscribe(),
      sessionEnded: () => this.sessionEnded(),
      signedOut: (reason) => this.sessionEnded(reason),
    });
    socket.on("metrics_sample", (sample) => {
      this.offset.observe(sample.ts, Date.now());
      this.model.add(sample);
    });
  }

  private sessionEnded(reason?: SignOutReason): void {
    if (this.ended) return;
    this.ended = true;
    this.close();
    this.onSessionEnded(reason);
  }

  private async subscribe(): Promise<void> {
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    let answer: SubscribeAnswer;
    try {
      const timed = this.socket.timeout(ACK_TIMEOUT_MS) as unknown as {
        emitWithAck(event: "metrics_subscribe", payload: object): Promise<SubscribeAnswer>;
      };
      answer = await timed.emitWithAck("metrics_subscribe", {});
    } catch {
      answer = { ok: false, error: { code: ErrorCode.UNAVAILABLE, message: "no answer" } };
    }
    if (!answer.ok) {
      this.error = answer.error;
      // Not an admin: asking again will not help. Anything else may pass.
      if (answer.error.code !== ErrorCode.FORBIDDEN && this.socket.connected) {
        this.retry = setTimeout(() => void this.subscribe(), RETRY_MS);
      }
      return;
    }
    this.error = null;
    this.model.configure({ windowSec: answer.windowSec, nodeTtlMs: answer.nodeTtlMs });
    this.windowSec = this.model.windowSec;
    this.model.addAll(answer.recent);
    // Until live samples arrive, the newest recent one tells how far off the browser's clock is.
    const newest = Math.max(...answer.recent.map((sample) => sample.ts));
    if (Number.isFinite(newest)) this.offset.observe(newest, Date.now());
    this.tick();
  }

  private tick(): void {
    const now = this.offset.now(Date.now());
    this.model.prune(now);
    this.now = now;
  }

}
