/**
 * Embedded mode keeps the user store inside the node process, so the admin CLI cannot reach it
 * through Redis: the node opens a Unix domain socket instead (ADMIN_SOCKET; by default
 * `<os.tmpdir()>/sala-admin-<port>.sock`), mode 0600 — only the OS user running the node (and
 * root) may connect — that answers the admin commands (commands.ts) and nothing else.
 *
 * Wire: the CLI sends one JSON line `{"command", "args", "actor"}`, the node answers one JSON line
 * (AdminReply) and closes the connection.
 */
import { chmod, unlink } from "node:fs/promises";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import type { Logger } from "../logger.js";
import { AdminError, runCommand, type AdminContext } from "./commands.js";

/** What the node answers commands with: its admin service, and its logger for failures. */
export type NodeAdminContext = Omit<AdminContext, "actor"> & { logger: Logger };

export interface AdminRequest {
  command: string;
  args: string[];
  actor: string;
}

export type AdminReply = { ok: true; message: string } | { ok: false; kind: "usage" | "failed"; message: string };

/** Longest argument: a password an operator sets may have up to 1,024 characters (the HTTP bodies' bound). */
const MAX_ARG_LENGTH = 1024;
/** Longest request line accepted (a command, a few names, a password in JSON). */
const MAX_REQUEST_BYTES = 16_384;
/** A connection that has not sent its request by then is closed. */
const REQUEST_TIMEOUT_MS = 5000;

function parseRequest(line: string): AdminRequest | null {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null) return null;
  const { command, args, actor } = value as Record<string, unknown>;
  if (typeof command !== "string" || typeof actor !== "string" || actor.length > 64) return null;
  if (!Array.isArray(args) || args.length > 8 || !args.every((arg) => typeof arg === "string" && arg.length <= MAX_ARG_LENGTH)) return null;
  return { command, args: args as string[], actor };
}

/** Runs a request against the node's stores; never throws. */
async function answer(request: AdminRequest | null, context: NodeAdminContext): Promise<AdminReply> {
  if (!request) return { ok: false, kind: "usage", message: "malformed admin request" };
  try {
    return { ok: true, message: await runCommand({ ...context, actor: request.actor }, request.command, request.args) };
  } catch (error) {
    if (error instanceof AdminError) return { ok: false, kind: error.kind, message: error.message };
    context.logger.error({ event: "admin_command_failed", command: request.command, err: (error as Error).message }, "admin command failed");
    return { ok: false, kind: "failed", message: `the node could not run it: ${(error as Error).message}` };
  }
}

function serve(socket: Socket, context: NodeAdminContext): void {
  let buffer = "";
  socket.setEncoding("utf8");
  socket.setTimeout(REQUEST_TIMEOUT_MS, () => socket.destroy());
  socket.on("error", () => socket.destroy());
  socket.on("data", (chunk: string) => {
    buffer += chunk;
    const end = buffer.indexOf("\n");
    if (end < 0 && buffer.length <= MAX_REQUEST_BYTES) return;
    socket.removeAllListeners("data");
    socket.pause();
    const request = end >= 0 && end <= MAX_REQUEST_BYTES ? parseRequest(buffer.slice(0, end)) : null;
    void answer(request, context).then((reply) => socket.end(`${JSON.stringify(reply)}\n`));
  });
}

/** Whether something answers on the socket at `path` (a live node), as opposed to a stale file. */
export function isLive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createConnection(path);
    probe.once("connect", () => {
      probe.destroy();
      resolve(true);
    });
    probe.once("error", () => resolve(false));
  });
}

/** Sets the process umask; returns the previous one, or null where it cannot be set. */
function setUmask(mask: number): number | null {
  try {
    return process.umask(mask);
  } catch {
    return null;
  }
}

function listen(server: Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    // The socket file is created with mode 0600 from the start: no moment where others may connect.
    // (A worker thread may not set the umask; the chmod after listening covers it there.)
    const umask = setUmask(0o177);
    try {
      server.listen(path, () => {
        server.off("error", reject);
        resolve();
      });
    } finally {
      if (umask !== null) setUmask(umask);
    }
  });
}

export interface ControlSocket {
  path: string;
  close(): Promise<void>;
}

/** Opens the admin socket at `path` (a stale file left by a crashed node is replaced). */
export async function openControlSocket(path: string, context: NodeAdminContext): Promise<ControlSocket> {
  const server = createServer((socket) => serve(socket, context));
  try {
    await listen(server, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EADDRINUSE") throw error;
    if (await isLive(path)) throw new Error(`ADMIN_SOCKET ${path}: another node is listening there`);
    await unlink(path);
    await listen(server, path);
  }
  await chmod(path, 0o600);
  server.on("error", (error) => context.logger.warn({ event: "admin_socket_error", err: error.message }, "admin socket error"));
  return {
    path,
    close: () =>
      new Promise<void>((resolve) => {
        // close() removes the socket file once the server is closed.
        server.close(() => resolve());
      }),
  };
}

/** The CLI's side: sends one request to the node at `path` and returns its reply. */
export function sendAdminRequest(path: string, request: AdminRequest, timeoutMs = 10_000): Promise<AdminReply> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    let buffer = "";
    socket.setEncoding("utf8");
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no answer from the node on ${path} within ${timeoutMs} ms`)));
    socket.once("connect", () => socket.write(`${JSON.stringify(request)}\n`));
    socket.on("data", (chunk: string) => {
      buffer += chunk;
    });
    socket.once("error", reject);
    socket.once("end", () => {
      try {
        resolve(JSON.parse(buffer) as AdminReply);
      } catch {
        reject(new Error(`unexpected answer from the node on ${path}`));
      }
    });
  });
}
