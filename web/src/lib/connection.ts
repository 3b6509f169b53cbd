import { ErrorCode, type SignOutReason } from "@sala/protocol";
import type { Socket } from "socket.io-client";
import { api } from "./api.js";

export type ConnectionState = "connecting" | "connected" | "reconnecting" | "offline";

/** Retry delay after the server refused a handshake it may accept later (a draining node, Redis down). */
const REFUSED_RETRY_MS = 1000;
/**
 * The server keeps an open socket's session alive, but only an HTTP response renews the cookie in
 * the browser: a tab left open for days asks for its session now and then.
 */
const SESSION_REFRESH_MS = 10 * 60_000;

export interface ConnectionHandlers {
  state(state: ConnectionState): void;
  connected(): void;
  /** The session is gone (logged out elsewhere, expired): the page goes back to the login page. */
  sessionEnded(): void;
  /** The server ended the session from elsewhere and said why; the socket is closing for good. */
  signedOut(reason: SignOutReason): void;
}

/** A session in either of these states cannot open a socket: retrying would only loop. */
const SESSION_GONE = new Set<string>([ErrorCode.UNAUTHORIZED, ErrorCode.PASSWORD_CHANGE_REQUIRED]);

/**
 * Keeps a socket connected and reports its state. Socket.IO reconnects by itself after a network
 * drop, but not when the server closed the socket on purpose or refused the handshake in a
 * middleware; those cases are retried here, except after `signed_out` (an operator locked the
 * account, the password changed elsewhere…): that session is gone, and the socket stays closed
 * until the user logs in again. The browser's online/offline events show at once,
 * and the session cookie is renewed while the page stays open. Returns a function that stops all
 * of it (it does not close the socket).
 */
export function keepConnected(socket: Socket, handlers: ConnectionHandlers): () => void {
  const down = (): ConnectionState => (navigator.onLine ? "reconnecting" : "offline");
  /** Set by `signed_out`, which the server sends just before it closes the socket. */
  let signedOut = false;
  socket.on("signed_out", ({ reason }: { reason: SignOutReason }) => {
    if (signedOut) return;
    signedOut = true;
    handlers.signedOut(reason);
  });
  socket.on("connect", () => {
    handlers.state("connected");
    handlers.connected();
  });
  socket.on("disconnect", (reason) => {
    if (signedOut) return;
    handlers.state(down());
    if (reason === "io server disconnect") socket.connect();
  });
  let checkingSession = false;
  /** Asks the server whether the session still exists; goes to the login page if not. */
  const checkSession = async () => {
    if (checkingSession) return;
    checkingSession = true;
    try {
      const session = await api.session();
      if (!signedOut && !session.ok && SESSION_GONE.has(session.error.code)) handlers.sessionEnded();
    } finally {
      checkingSession = false;
    }
  };
  socket.on("connect_error", (error) => {
    if (signedOut) return;
    if (SESSION_GONE.has(error.message)) {
      handlers.sessionEnded();
      return;
    }
    handlers.state(down());
    // UNAVAILABLE (a draining node, Redis down) may pass on the next try; other refusals will not.
    if (!socket.active && error.message === ErrorCode.UNAVAILABLE) setTimeout(() => socket.connect(), REFUSED_RETRY_MS);
    // A handshake without a logged-in session is refused before any Engine.IO session exists, so
    // it fails as a transport error, not UNAUTHORIZED: one question to /session tells the two apart
    // (Socket.IO's backoff paces the retries, and so these questions).
    if (socket.active) void checkSession();
  });
  const wentOffline = () => handlers.state("offline");
  const cameOnline = () => {
    if (!socket.connected) handlers.state("reconnecting");
  };
  window.addEventListener("offline", wentOffline);
  window.addEventListener("online", cameOnline);
  const refresh = setInterval(() => void checkSession(), SESSION_REFRESH_MS);
  return () => {
    clearInterval(refresh);
    window.removeEventListener("offline", wentOffline);
    window.removeEventListener("online", cameOnline);
  };
}
