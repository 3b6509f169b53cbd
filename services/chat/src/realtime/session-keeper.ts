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
    // With Redis away every renewal of the sweep fails: one log line for the sweep, not one per session.
    let pending = 1;
    let failed = 0;
    let firstError = "";
    const settled = (error?: unknown) => {
      if (error) {
        failed += 1;
        firstError ||= (error as Error).message;
      }
      if (--pending === 0 && failed > 0) {
        this.logger.warn({ event: "session_renew_failed", sessions: failed, err: firstError }, "could not renew sessions of open sockets");
      }
    };
    for (const socket of this.io.of("/").sockets.values()) {
      const { id: sessionId, loginAt, cookie } = socket.data.session;
      if (now - loginAt > this.absoluteMs) {
        socket.disconnect(true);
        continue;
      }
      if (renewed.has(sessionId)) continue;
      renewed.add(sessionId);
      // What Session.touch() does: the idle timeout starts again now (express-session documents
      // that assigning cookie.maxAge moves cookie.expires); stores renew by the cookie's expiry.
      if (cookie.originalMaxAge !== null) cookie.maxAge = cookie.originalMaxAge;
      if (!this.store.touch) continue;
      pending += 1;
      this.store.touch(sessionId, { cookie } as SessionData, settled);
    }
    settled();
  }
}
