import type { Logger } from "../logger.js";
import { nameKey, type PresenceStore, type PresenceTransition } from "../stores/types.js";
import type { LobbyFeed } from "./lobby-feed.js";

/** A user who could not be taken off the lobby (Redis unavailable) is tried again after this long at least. */
const RETRY_LEAVE_MS = 5000;

export interface PresenceTrackerDeps {
  presence: PresenceStore;
  nodeId: string;
  lobbyFeed: LobbyFeed;
  /** Called once per user who went offline cluster-wide, whichever node noticed. */
  onUserOffline(username: string): Promise<void>;
  /** Called once per user who came online cluster-wide (their first socket anywhere), by the node that holds it. */
  onUserOnline(username: string): Promise<void>;
  heartbeatIntervalMs: number;
  nodeTtlMs: number;
  /** A user whose last socket closed is announced offline only after this. */
  graceMs: number;
  logger: Logger;
}

/**
 * Per-user presence across the cluster. Shared state counts, per node, the users it holds; a
 * node heartbeats, and every node sweeps the nodes whose heartbeat expired, so a crashed node's
 * users go offline within NODE_TTL_MS + one heartbeat interval.
 *
 * This node counts its own sockets per user and tells shared state only about a user's first
 * socket here and their last: a user's second tab, or a burst of reconnects, costs no Redis
 * round trip. The count also lets it re-register its users if it was swept while alive (a long
 * pause or a Redis outage).
 *
 * Closing the last socket starts a grace period (PRESENCE_GRACE_MS): a reload, a network blip or a
 * move to another node during a drain does not show the user leaving, nor rotate room keys. The
 * pending confirmation is queued in shared state, so whichever node ticks first confirms it, even
 * if the node that queued it is gone. Until it is confirmed the user stays listed in the lobby
 * (PresenceStore.leaveLobby), so its first page does not show them leaving either.
 */
export class PresenceTracker {
  /** This node's sockets per user; `registered` settles when shared state has counted the user here. */
  private readonly local = new Map<string, { username: string; sockets: number; registered: Promise<void> }>();
  private timer: NodeJS.Timeout | null = null;
  private ticking = false;
  /** Users' last sockets closed whose departure is still being recorded (stop() waits for them). */
  private readonly departures = new Set<Promise<void>>();
  private stopped = false;

  constructor(private readonly deps: PresenceTrackerDeps) {}

  async start(): Promise<void> {
    // A restart under the same NODE_ID must not inherit the counts of its previous life.
    await this.publishOffline(await this.deps.presence.sweepNode(this.deps.nodeId));
    await this.deps.presence.heartbeat(this.deps.nodeId, Date.now());
    this.timer = setInterval(() => void this.tick(), this.deps.heartbeatIntervalMs);
    this.timer.unref();
  }

  /**
   * Stops heartbeats and releases every socket of this node at once (shutdown). Its users get the
   * grace period: during a drain they reconnect to other nodes and never appear to leave.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.local.clear();
    // Departures under way finish first (their users taken off the lobby, out of their rooms):
    // the drain closes the Redis connections next, and would cut them off half-way.
    await Promise.allSettled([...this.departures]);
    await this.wentOffline(await this.deps.presence.sweepNode(this.deps.nodeId));
  }

  /**
   * Resolves once the user is counted on this node in shared state (at once for a second socket,
   * after the first socket's registration otherwise). When that registration fails, every socket
   * that waited on it is refused, and the next socket tries again.
   */
  socketConnected(username: string): Promise<void> {
    // A handshake that finishes after stop() must not count the user on a node already swept:
    // nobody would ever sweep it again.
    if (this.stopped) return Promise.reject(new Error("this node is shutting down"));
    const key = nameKey(username);
    const existing = this.local.get(key);
    if (existing) {
      existing.sockets += 1;
      return existing.registered;
    }
    const entry = { username, sockets: 1, registered: this.register(username) };
    this.local.set(key, entry);
    entry.registered.catch(() => {
      if (this.local.get(key) === entry) this.local.delete(key);
    });
    return entry.registered;
  }

  /** Only for sockets whose socketConnected() resolved. */
  async socketDisconnected(username: string): Promise<void> {
    if (this.stopped) return; // stop() already took this node's sockets offline in one sweep
    const key = nameKey(username);
    const entry = this.local.get(key);
    if (!entry || --entry.sockets > 0) return;
    this.local.delete(key);
    const departure = this.depart(username);
    this.departures.add(departure);
    try {
      await departure;
    } finally {
      this.departures.delete(departure);
    }
  }

  private async depart(username: string): Promise<void> {
    const offline = await this.deps.presence.disconnect(this.deps.nodeId, username);
    if (offline) await this.wentOffline([offline]);
  }

  private async register(username: string): Promise<void> {
    const online = await this.deps.presence.connect(this.deps.nodeId, username);
    if (!online) return;
    this.deps.lobbyFeed.userOnline(online.username, online.rev);
    // Told in the background: a handshake does not wait for the user's rooms to hear it.
    void this.deps.onUserOnline(online.username).catch((error: unknown) => {
      this.deps.logger.warn({ event: "presence_online_notice_failed", user: online.username, err: (error as Error).message }, "could not tell a user's rooms they came online");
    });
  }

  /** One heartbeat, then a sweep of dead nodes. Never overlaps itself; errors are logged. */
  /** Since when this node's heartbeats have gone through without a failure (null: the last one failed). */
  private heartbeatingSince: number | null = null;

  async tick(now = Date.now()): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      const { presence, nodeId, nodeTtlMs } = this.deps;
      const known = await presence.heartbeat(nodeId, now);
      this.heartbeatingSince ??= now;
      if (!known) await this.reregister();
      // Another node's silence means it died only if this node could have heard it: after an
      // outage of shared state (a Redis failover longer than NODE_TTL_MS), every node's last
      // heartbeat is old, and the first one back would sweep live nodes, taking their users out
      // of their rooms. So a node sweeps only once its own heartbeats have gone through for a
      // whole NODE_TTL_MS: by then every live node has heartbeated again.
      if (now - this.heartbeatingSince >= nodeTtlMs) {
        for (const deadNode of await presence.deadNodes(now, nodeTtlMs)) {
          if (deadNode === nodeId) continue;
          const offline = await presence.sweepNode(deadNode);
          this.deps.logger.warn({ event: "node_swept", deadNode, usersOffline: offline.length }, "swept a dead node");
          await this.publishOffline(offline);
        }
      }
      await this.confirmDueOffline(now);
    } catch (error) {
      this.heartbeatingSince = null;
      this.deps.logger.warn({ event: "presence_tick_failed", err: (error as Error).message }, "presence heartbeat failed");
    } finally {
      this.ticking = false;
    }
  }

  /** This node had been swept while alive: count its users again. */
  private async reregister(): Promise<void> {
    this.deps.logger.warn({ event: "presence_reregister", users: this.local.size }, "node was swept while alive; re-registering its sockets");
    // A copy: users who connect meanwhile register themselves (registration is idempotent anyway).
    for (const { username } of [...this.local.values()]) await this.register(username);
  }

  /** Announces now, or after the grace period when there is one. */
  private async wentOffline(transitions: PresenceTransition[]): Promise<void> {
    const { graceMs, presence } = this.deps;
    if (graceMs <= 0) return this.publishOffline(transitions);
    const dueAt = Date.now() + graceMs;
    await Promise.all(transitions.map((transition) => presence.deferOffline(transition, dueAt)));
  }

  /**
   * Announces the queued transitions whose grace ran out, unless the user came back meanwhile —
   * even if they are between two sockets again right now (a second move during a rolling
   * restart): that later departure has its own confirmation.
   */
  private async confirmDueOffline(now: number): Promise<void> {
    const due = await this.deps.presence.takeDueOffline(now);
    if (due.length > 0) await this.publishOffline(due);
  }

  /**
   * Takes the users off the lobby (each in one step that checks they did not come back) and
   * announces those it took, with the revision of that change. One that cannot be taken now is
   * queued again, so that no user stays listed for good.
   */
  private async publishOffline(transitions: PresenceTransition[]): Promise<void> {
    const { presence, graceMs } = this.deps;
    const gone: PresenceTransition[] = [];
    await Promise.all(
      transitions.map(async (transition) => {
        try {
          const rev = await presence.leaveLobby(transition.username, transition.rev);
          if (rev > 0) gone.push({ username: transition.username, rev });
        } catch (error) {
          this.deps.logger.warn({ event: "presence_leave_lobby_failed", user: transition.username, err: (error as Error).message }, "could not take a user off the lobby; retrying later");
          await presence.deferOffline(transition, Date.now() + Math.max(graceMs, RETRY_LEAVE_MS)).catch(() => {});
        }
      }),
    );
    for (const { username, rev } of gone) this.deps.lobbyFeed.userOffline(username, rev);
    await Promise.all(gone.map(({ username }) => this.deps.onUserOffline(username)));
  }
}
