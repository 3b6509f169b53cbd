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
    return { name: error.name, message: error.message, app: { code: appCode, retryAfterMs, fields: structuredClone(fields) } };
  }
  return { name: error.name, message: error.message, ...(typeof code === "string" ? { code } : {}) };
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
  return error;
}

/** The two levels the store thread's objects log at (a pino logger is one; so is the thread's LogLine sender). */
export interface EventLog {
  warn(fields: Record<string, unknown>, msg: string): void;
  error(fields: Record<string, unknown>, msg: string): void;
}
