import type { SessionData, Store } from "express-session";
import type { Logger } from "../logger.js";
import type { SalaServer } from "./types.js";

/**
 * Sessions expire after the idle timeout unless something renews them. An open chat tab is not
 * idle, yet it makes no HTTP requests: this renews the sessions of this node's connected sockets
 * periodically, and disconnects sockets whose session passed its absolute timeout.
 */
export class SessionKeeper {
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly io: SalaServer,
    private readonly store: Store,
    private readonly idleMs: number,
    private readonly absoluteMs: number,
    private readonly logger: Logger,
  ) {}

  start(): void {
    const every = Math.max(1000, Math.min(this.idleMs / 3, 5 * 60_000));
    this.timer = setInterval(() => this.sweep(), every);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  sweep(now = Date.now()): void {
    const renewed = new Set<string>();
    for (const socket of this.io.of("/").sockets.values()) {
      const req = socket.request;
      const session = req.session;
      const sessionId = req.sessionID;
      if (!session || !sessionId) continue;
      if (typeof session.loginAt !== "number" || now - session.loginAt > this.absoluteMs) {
        socket.disconnect(true);
        continue;
      }
      if (renewed.has(sessionId)) continue;
      renewed.add(sessionId);
      session.touch();
      this.store.touch?.(sessionId, session as unknown as SessionData, (error?: unknown) => {
        if (error) this.logger.warn({ event: "session_renew_failed", err: (error as Error).message }, "could not renew a session");
      });
    }
  }
}
