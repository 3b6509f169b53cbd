import type { Logger } from "../logger.js";
import { nameKey, type PresenceStore, type PresenceTransition } from "../stores/types.js";
import type { LobbyFeed } from "./lobby-feed.js";

export interface PresenceTrackerDeps {
  presence: PresenceStore;
  nodeId: string;
  lobbyFeed: LobbyFeed;
  /** Called once per user who went offline cluster-wide, whichever node noticed. */
  onUserOffline(username: string): Promise<void>;
  heartbeatIntervalMs: number;
  nodeTtlMs: number;
  logger: Logger;
}

/**
 * Per-user presence across the cluster. Sockets are counted per node in shared state; a node
 * heartbeats, and every node sweeps the nodes whose heartbeat expired, so a crashed node's users
 * go offline within NODE_TTL_MS + one heartbeat interval. This node also remembers its own sockets
 * so it can re-register them if it was swept while alive (a long pause or a Redis outage).
 */
export class PresenceTracker {
  private readonly local = new Map<string, { username: string; sockets: number }>();
  private timer: NodeJS.Timeout | null = null;
  private ticking = false;
  private stopped = false;

  constructor(private readonly deps: PresenceTrackerDeps) {}

  async start(): Promise<void> {
    // A restart under the same NODE_ID must not inherit the counts of its previous life.
    await this.publishOffline(await this.deps.presence.sweepNode(this.deps.nodeId));
    await this.deps.presence.heartbeat(this.deps.nodeId, Date.now());
    this.timer = setInterval(() => void this.tick(), this.deps.heartbeatIntervalMs);
    this.timer.unref();
  }

  /** Stops heartbeats and takes every socket of this node offline at once (shutdown). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.local.clear();
    await this.publishOffline(await this.deps.presence.sweepNode(this.deps.nodeId));
  }

  async socketConnected(username: string): Promise<void> {
    const key = nameKey(username);
    const entry = this.local.get(key) ?? { username, sockets: 0 };
    entry.sockets += 1;
    this.local.set(key, entry);
    const online = await this.deps.presence.connect(this.deps.nodeId, username);
    if (online) this.deps.lobbyFeed.userOnline(online.username, online.rev);
  }

  async socketDisconnected(username: string): Promise<void> {
    if (this.stopped) return; // stop() already took this node's sockets offline in one sweep
    const key = nameKey(username);
    const entry = this.local.get(key);
    if (entry && --entry.sockets <= 0) this.local.delete(key);
    const offline = await this.deps.presence.disconnect(this.deps.nodeId, username);
    if (offline) await this.publishOffline([offline]);
  }

  /** One heartbeat, then a sweep of dead nodes. Never overlaps itself; errors are logged. */
  async tick(now = Date.now()): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      const { presence, nodeId, nodeTtlMs } = this.deps;
      const known = await presence.heartbeat(nodeId, now);
      if (!known) await this.reregister();
      for (const deadNode of await presence.deadNodes(now, nodeTtlMs)) {
        if (deadNode === nodeId) continue;
        const offline = await presence.sweepNode(deadNode);
        this.deps.logger.warn({ event: "node_swept", deadNode, usersOffline: offline.length }, "swept a dead node");
        await this.publishOffline(offline);
      }
    } catch (error) {
      this.deps.logger.warn({ event: "presence_tick_failed", err: (error as Error).message }, "presence heartbeat failed");
    } finally {
      this.ticking = false;
    }
  }

  /** This node had been swept while alive: count its sockets again. */
  private async reregister(): Promise<void> {
    this.deps.logger.warn({ event: "presence_reregister", users: this.local.size }, "node was swept while alive; re-registering its sockets");
    for (const { username, sockets } of this.local.values()) {
      for (let i = 0; i < sockets; i++) {
        const online = await this.deps.presence.connect(this.deps.nodeId, username);
        if (online) this.deps.lobbyFeed.userOnline(online.username, online.rev);
      }
    }
  }

  private async publishOffline(transitions: PresenceTransition[]): Promise<void> {
    for (const { username, rev } of transitions) this.deps.lobbyFeed.userOffline(username, rev);
    await Promise.all(transitions.map(({ username }) => this.deps.onUserOffline(username)));
  }
}
