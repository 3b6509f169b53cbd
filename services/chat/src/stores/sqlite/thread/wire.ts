/**
 * What the event loop and the store thread (host.ts, client.ts) say to each other: a call of one
 * method of one of the thread's objects, its answer, and a log line. Values cross by structured
 * clone; errors are rebuilt on the calling side with their name, code and message, and an AppError
 * (a protocol error code the client may see: a confusable name, say) as an AppError.
 */
import { ErrorCode } from "@sala/protocol";
import { AppError } from "../../../errors.js";

export interface Call {
  id: number;
  target: string;
  method: string;
  args: unknown[];
}

export interface SerializedError {
  name: string;
  message: string;
  code?: string;
  stack?: string;
  /** Set for an AppError: its protocol code, retry hint and own fields (a confusable's `existing`). */
  app?: { code: ErrorCode; retryAfterMs?: number; fields: Record<string, unknown> };
}

export type Answer = { id: number; value: unknown } | { id: number; error: SerializedError };

/** A log line of the thread, written by the node's logger (one logger, one format, the node's fields). */
export interface LogLine {
  log: "warn" | "error";
  fields: Record<string, unknown>;
  msg: string;
}

export function serializeError(error: unknown): SerializedError {
  if (!(error instanceof Error)) return { name: "Error", message: String(error) };
  const code = (error as { code?: unknown }).code;
  if (error instanceof AppError) {
    const { code: appCode, retryAfterMs, ...fields } = { ...error };
    return { name: error.name, message: error.message, stack: error.stack, app: { code: appCode, retryAfterMs, fields: cloneable(fields) } };
  }
  return { name: error.name, message: error.message, stack: error.stack, ...(typeof code === "string" ? { code } : {}) };
}

/** An AppError's own fields as they can cross (a confusable's `existing`): what cannot is left out. */
function cloneable(fields: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(fields).filter(([, value]) => {
      try {
        structuredClone(value);
        return true;
      } catch {
        return false;
      }
    }),
  );
}

export function deserializeError(serialized: SerializedError): Error {
  if (serialized.app) {
    const error = Object.assign(new AppError(serialized.app.code, serialized.message, serialized.app.retryAfterMs), serialized.app.fields);
    error.name = serialized.name;
    return error;
  }
  const error = new Error(serialized.message) as Error & { code?: string };
  error.name = serialized.name;
  if (serialized.code !== undefined) error.code = serialized.code;
  // The thread's stack: a failure logged here points at the statement that failed there.
  if (serialized.stack) error.stack = serialized.stack;
  return error;
}

/** The two levels the store thread's objects log at (a pino logger is one; so is the thread's LogLine sender). */
export interface EventLog {
  warn(fields: Record<string, unknown>, msg: string): void;
  error(fields: Record<string, unknown>, msg: string): void;
}

/**
 * What one side posts to the other, sent together once per turn of its event loop: one message,
 * and one wake-up of the other thread, for all the calls (or answers) of a turn. A message each
 * cost ≈ 70 µs of CPU per chat message across the two threads (docs/BENCHMARKS.md, session 16).
 * Should the batch not clone (a value no structured clone takes), each item is posted alone and
 * the one that fails is `refused` — the rest still go.
 */
export class Outbox<T> {
  private items: T[] = [];

  constructor(
    private readonly post: (items: T[]) => void,
    private readonly refused: (item: T, error: unknown) => void,
    /** When a turn's items go: the event loop's next check phase by default (the calls of every socket event of a poll phase). */
    private readonly schedule: (flush: () => void) => void = setImmediate,
  ) {}

  push(item: T): void {
    if (this.items.length === 0) this.schedule(() => this.flush());
    this.items.push(item);
  }

  private flush(): void {
    const items = this.items;
    this.items = [];
    try {
      this.post(items);
    } catch {
      for (const item of items) {
        try {
          this.post([item]);
        } catch (error) {
          this.refused(item, error);
        }
      }
    }
  }
}
