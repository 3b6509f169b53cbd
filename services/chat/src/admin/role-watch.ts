import type { Logger } from "../logger.js";
import { localSocketsIn, SocketRooms, type SalaServer, type SalaSocket } from "../realtime/types.js";
import { nameKey, type UserStore } from "../stores/types.js";

/** How often a node re-reads the role of the admins watching /memory through it. */
export const ADMIN_ROLE_RECHECK_MS = 2000;

/**
 * A socket gets its admin role at the handshake (socket-role.ts). So that `revoke-admin` also
 * stops a /memory page that is already open, each node re-reads, every ADMIN_ROLE_RECHECK_MS, the
 * role of the users whose sockets on this node watch the cluster's samples — a handful of
 * operators, one store read each — and takes a revoked user's sockets out of the samples' room.
 * In-process on every node, so it works the same with Redis and embedded.
 */
export class AdminRoleWatch {
  private timer: NodeJS.Timeout | null = null;
  private running = false;

  constructor(
    private readonly io: SalaServer,
    private readonly users: UserStore,
    private readonly logger: Logger,
    private readonly intervalMs = ADMIN_ROLE_RECHECK_MS,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.check(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** One pass; never throws (a store error leaves everyone as they are until the next pass). */
  async check(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      const viewers = new Map<string, SalaSocket[]>();
      for (const socket of localSocketsIn(this.io, SocketRooms.metricsViewers)) {
        const key = nameKey(socket.data.username);
        viewers.set(key, [...(viewers.get(key) ?? []), socket]);
      }
      for (const sockets of viewers.values()) {
        const username = sockets[0]!.data.username;
        if (await this.users.isAdmin(username)) continue;
        for (const socket of sockets) {
          socket.data.isAdmin = false;
          socket.leave(SocketRooms.metricsViewers);
        }
        this.logger.info({ event: "admin_role_revoked_live", user: username, sockets: sockets.length }, "no longer an admin: stopped sending cluster samples");
      }
    } catch (error) {
      this.logger.warn({ event: "admin_role_recheck_failed", err: (error as Error).message }, "could not re-read admin roles");
    } finally {
      this.running = false;
    }
  }
}
