import { ErrorCode } from "@sala/protocol";
import type { Socket } from "socket.io-client";

export type ConnectionState = "connecting" | "connected" | "reconnecting" | "offline";

/** Retry delay after the server refused a handshake it may accept later (a draining node, Redis down). */
const REFUSED_RETRY_MS = 1000;

/**
 * Keeps a socket connected and reports its state: Socket.IO reconnects by itself after a network
 * drop, but not when the server closed the socket on purpose or refused the handshake in a
 * middleware, so those cases are retried here. A refusal for lack of a session ends it.
 */
export function keepConnected(
  socket: Socket,
  handlers: { state(state: ConnectionState): void; connected(): void; sessionEnded(): void },
): void {
  const down = (): ConnectionState => (navigator.onLine ? "reconnecting" : "offline");
  socket.on("connect", () => {
    handlers.state("connected");
    handlers.connected();
  });
  socket.on("disconnect", (reason) => {
    handlers.state(down());
    if (reason === "io server disconnect") socket.connect();
  });
  socket.on("connect_error", (error) => {
    if (error.message === ErrorCode.UNAUTHORIZED) {
      handlers.sessionEnded();
      return;
    }
    handlers.state(down());
    // UNAVAILABLE (a draining node, Redis down) may pass on the next try; other refusals will not.
    if (!socket.active && error.message === ErrorCode.UNAVAILABLE) setTimeout(() => socket.connect(), REFUSED_RETRY_MS);
  });
}
