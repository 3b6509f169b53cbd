import type { Logger } from "../logger.js";
import type { Sessions } from "../http/session.js";
import type { SalaServer, SalaSocket } from "./types.js";

/**
 * Sessions expire after the idle timeout unless something renews them. An open chat tab is not
 * idle, yet it makes no HTTP requests: this renews the sessions of this node's connected sockets
 * periodically, and disconnects sockets whose session passed its absolute timeout — or is gone from
 * the store: ended elsewhere while the notice that should have closed them (admin/notices.ts) never
 * reached this node (its subscriber connection was down), so it is closed within one sweep anyway.
 */
export class SessionKeeper {
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly io: SalaServer,
    private readonly sessions: Pick<Sessions, "renew">,
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
        endSocket(socket);
        continue;
      }
      if (renewed.has(sessionId)) continue;
      renewed.add(sessionId);
      // What Session.touch() does: the idle timeout starts again now (express-session documents
      // that assigning cookie.maxAge moves cookie.expires); stores renew by the cookie's expiry.
      if (cookie.originalMaxAge !== null) cookie.maxAge = cookie.originalMaxAge;
      pending += 1;
      this.sessions.renew(sessionId, cookie).then(
        (alive) => {
          if (!alive) this.endGone(sessionId);
          settled();
        },
        (error: unknown) => settled(error),
      );
    }
    settled();
  }

  /** Closes this node's sockets of a session that is no longer in the store. */
  private endGone(sessionId: string): void {
    let closed = 0;
    for (const socket of this.io.of("/").sockets.values()) {
      if (socket.data.session.id !== sessionId) continue;
      endSocket(socket);
      closed += 1;
    }
    if (closed > 0) this.logger.info({ event: "session_gone_sockets_closed", sockets: closed }, "closed sockets whose session is no longer in the store");
  }
}

/** Tells the socket its session expired (the page says so), then closes it. */
function endSocket(socket: SalaSocket): void {
  socket.emit("signed_out", { reason: "expired" });
  socket.disconnect(true);
}
