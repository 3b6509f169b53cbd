import { ErrorCode } from "@sala/protocol";
import { addressKey, clientAddress, type ProxyTrust } from "../http/client-address.js";
import type { Logger } from "../logger.js";
import type { SocketAdmission, SocketCaps, SocketCountStore } from "../stores/types.js";
import type { SalaSocket } from "./types.js";

export interface SocketCapDeps {
  store: SocketCountStore;
  nodeId: string;
  /** MAX_SOCKETS_PER_USER and MAX_SOCKETS_PER_ADDRESS (0: no limit). */
  caps: SocketCaps;
  /** TRUST_PROXY, as the client address of HTTP requests honours it. */
  trust: ProxyTrust;
  heartbeatIntervalMs: number;
  /** This node's counts expire this long after its last heartbeat (a dead node's with it). */
  nodeTtlMs: number;
  logger: Logger;
}

/** One counted socket: what its release takes back. */
interface Counted {
  username: string;
  address: string;
}

/**
 * Caps on the sockets one user, and one client address, may hold across the cluster: a handshake
 * over either cap is refused with TOO_MANY_SOCKETS (the client's connect_error). The decision and
 * the count are one atomic step in shared state; a socket's count is released when it closes, and
 * a dead node's counts expire with its heartbeat (the store's keepAlive), so they never hold slots
 * after a crash for longer than NODE_TTL_MS.
 *
 * `admit` must be the last handshake middleware: a socket it lets through is connected at once
 * (or its connection is already gone, and its count released), never refused after being counted.
 */
export class SocketCapGuard {
  /** This node's counted sockets: what it writes back if its counts expired while it was alive. */
  private readonly counted = new Set<Counted>();
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  /** A count or release failed midway (its effect in shared state unknown): write them all back. */
  private stale = false;

  constructor(private readonly deps: SocketCapDeps) {}

  private get enabled(): boolean {
    return this.deps.caps.perUser > 0 || this.deps.caps.perAddress > 0;
  }

  /** Forgets the counts of a previous life under this NODE_ID, then keeps this node's alive. */
  async start(): Promise<void> {
    if (!this.enabled) return;
    await this.deps.store.forgetNode(this.deps.nodeId);
    this.timer = setInterval(() => void this.keepAlive(), this.deps.heartbeatIntervalMs);
    this.timer.unref();
  }

  /** Shutdown: this node's counts go at once; its sockets' releases are then not needed. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.counted.clear();
    if (this.enabled) await this.deps.store.forgetNode(this.deps.nodeId);
  }

  /** The handshake middleware (io.use). */
  readonly admit = async (socket: SalaSocket, next: (error?: Error) => void): Promise<void> => {
    if (!this.enabled) return next();
    const { store, nodeId, caps, nodeTtlMs, logger } = this.deps;
    const entry: Counted = { username: socket.data.username, address: addressKey(clientAddress(socket.request, this.deps.trust)) };
    let admission: SocketAdmission;
    try {
      admission = await store.acquire(nodeId, entry.username, entry.address, caps, Date.now(), nodeTtlMs);
    } catch (error) {
      this.stale = true; // the script may have counted it before its answer was lost
      logger.warn({ event: "socket_count_failed", user: entry.username, err: (error as Error).message }, "could not count a socket; handshake refused");
      return next(new Error(ErrorCode.UNAVAILABLE));
    }
    if (admission !== "ok") {
      logger.info({ event: "socket_cap_reached", user: entry.username, address: entry.address, cap: admission }, "handshake refused: too many sockets");
      return next(new Error(ErrorCode.TOO_MANY_SOCKETS));
    }
    this.counted.add(entry);
    const release = () => this.release(entry); // once: the entry leaves `counted` the first time
    // The connection closed while the count was taken: Socket.IO would drop the socket silently,
    // without a disconnect. Otherwise, this being the last middleware, the socket connects in this
    // same turn (no I/O comes between), and its disconnect releases the count.
    if (socket.conn.readyState !== "open") {
      release();
      return next(new Error(ErrorCode.UNAVAILABLE));
    }
    socket.on("disconnect", release);
    next();
  };

  private release(entry: Counted): void {
    if (!this.counted.delete(entry) || this.stopped) return;
    this.deps.store.release(this.deps.nodeId, entry.username, entry.address).catch((error: unknown) => {
      this.stale = true;
      this.deps.logger.warn({ event: "socket_release_failed", user: entry.username, err: (error as Error).message }, "could not release a socket's count");
    });
  }

  /**
   * One heartbeat. Writes this node's counts back from its own tally when they had expired (a long
   * pause, a Redis outage) or a count or release failed: shared state then agrees with the node again.
   */
  async keepAlive(now = Date.now()): Promise<void> {
    const { store, nodeId, nodeTtlMs, logger } = this.deps;
    try {
      if ((await store.keepAlive(nodeId, now, nodeTtlMs)) && !this.stale) return;
      this.stale = false;
      await store.restore(nodeId, [...this.counted], now, nodeTtlMs);
      if (this.counted.size > 0) logger.warn({ event: "socket_counts_restored", sockets: this.counted.size }, "this node's socket counts had expired; written back");
    } catch (error) {
      this.stale = true;
      logger.warn({ event: "socket_counts_keepalive_failed", err: (error as Error).message }, "could not keep this node's socket counts alive");
    }
  }
}
