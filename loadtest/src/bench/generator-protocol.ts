/**
 * What the scale benches ask their socket generator processes (socket-generator.ts) over IPC, and
 * what they answer. One generator holds at most ~15,000 sockets: this machine allows 20,000 open
 * files per process (`ulimit -n`), and a generator needs a few for itself.
 */
import type { LoadUser } from "../target.js";

export interface OpenRequest {
  cmd: "open";
  users: LoadUser[];
  /** Node URLs: socket n of the whole bench (`firstIndex` + i) goes to urls[n % urls.length]. */
  urls: string[];
  firstIndex: number;
  origin: string;
  /** Handshakes in flight at once in this generator. */
  concurrency: number;
  /** Tries per socket (1: a refusal is an error and the socket stays closed). */
  attempts: number;
  /** How long one try may take to connect (ms). */
  connectTimeoutMs: number;
  /** No new socket is started after this (epoch ms); the rest count as not opened. */
  deadline: number;
}

export interface OpenResult {
  opened: number;
  /** Failed handshakes (each attempt), and sockets that never opened. */
  errors: number;
  notOpened: number;
  /** A few error messages, to say what failed. */
  errorSamples: string[];
  /** Each opened socket's connect time (ms, upgrade request → Socket.IO connect). */
  connectMs: number[];
  /** Each opened socket's time to its first `lobby` event (ms), and its size (bytes); NaN when none came yet. */
  lobbyMs: number[];
  lobbyBytes: number[];
  /** What the opened sockets received in all until the last one opened (frames, payload bytes), snapshots included. */
  frames: number;
  bytes: number;
}

/** Closes this generator's last `count` sockets (all when absent). */
export interface CloseRequest {
  cmd: "close";
  count?: number;
}

/**
 * Starts churn: every so often (`perMinute` of this generator's sockets per minute, evenly
 * spread) an open socket closes and comes back `offlineMs` later with the same session, as a user
 * whose connection drops for a while.
 */
export interface ChurnStartRequest {
  cmd: "churn-start";
  perMinute: number;
  offlineMs: number;
}

/** Stops churn and waits for the sockets still offline to come back. */
export interface ChurnStopRequest {
  cmd: "churn-stop";
}

/** Notes every open socket's counters, for a later `since-mark`. */
export interface MarkRequest {
  cmd: "mark";
}

/** What the sockets open at the mark and open all along since received (churned ones left out). */
export interface SinceMarkRequest {
  cmd: "since-mark";
}

export interface Counters {
  open: number;
  /** Churn so far: sockets closed, sockets back (a connect completed), reconnects that failed. */
  wentOffline: number;
  cameBack: number;
  reconnectErrors: number;
  /** Since the mark (since-mark only). */
  steadySockets: number;
  steadyFrames: number;
  steadyBytes: number;
}

export type GeneratorRequest = OpenRequest | CloseRequest | ChurnStartRequest | ChurnStopRequest | MarkRequest | SinceMarkRequest;

export type GeneratorAnswer<R extends GeneratorRequest> = R extends OpenRequest ? OpenResult : R extends CloseRequest ? { closed: number } : Counters;

/** Parent → child: a request with its id. Child → parent: the answer, or progress while opening. */
export type ToGenerator = { id: number; request: GeneratorRequest };
export type FromGenerator =
  | { id: number; ok: true; answer: unknown }
  | { id: number; ok: false; error: string }
  | { progress: { opened: number; errors: number } };
