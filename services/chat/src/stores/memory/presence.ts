import { compareNameKeys } from "@sala/protocol";
import { nameKey, type PresenceStore, type PresenceTransition } from "../types.js";
import type { Revision } from "./revision.js";
import { SortedList } from "./sorted-list.js";

export class MemoryPresenceStore implements PresenceStore {
  /** nodeId → (nameKey → 1: the node holds the user) */
  private readonly byNode = new Map<string, Map<string, number>>();
  /** nameKey → { display name, number of nodes holding the user } */
  private readonly online = new Map<string, { username: string; count: number }>();
  private readonly heartbeats = new Map<string, number>();
  /** nameKey → revision of the user's latest online transition */
  private readonly onlineRev = new Map<string, number>();
  private pendingOffline: Array<{ transition: PresenceTransition; dueAt: number }> = [];
  /** The name keys of the users listed in the lobby (online, or offline within their grace), in order. */
  readonly byName = new SortedList<string>(compareNameKeys);
  /** nameKey → display name, of the users listed in the lobby. */
  private readonly listed = new Map<string, string>();

  constructor(private readonly revision: Revision) {}

  async connect(nodeId: string, username: string): Promise<PresenceTransition | null> {
    const key = nameKey(username);
    let node = this.byNode.get(nodeId);
    if (!node) this.byNode.set(nodeId, (node = new Map()));
    if (node.has(key)) return null; // already held: a repeated call changes nothing
    node.set(key, 1);
    const entry = this.online.get(key);
    if (entry) {
      entry.count += 1;
      return null;
    }
    this.online.set(key, { username, count: 1 });
    this.byName.add(key);
    this.listed.set(key, username);
    const rev = this.revision.next();
    this.onlineRev.set(key, rev);
    return { username, rev };
  }

  async disconnect(nodeId: string, username: string): Promise<PresenceTransition | null> {
    const key = nameKey(username);
    const node = this.byNode.get(nodeId);
    if (!node?.delete(key)) return null; // not held (already swept, or released): nothing to take back
    return this.release(key, 1);
  }

  async isOnline(username: string): Promise<boolean> {
    return this.online.has(nameKey(username));
  }

  /** The display name of a user listed in the lobby. */
  displayName(key: string): string | undefined {
    return this.listed.get(key);
  }

  async heartbeat(nodeId: string, now: number): Promise<boolean> {
    const known = this.heartbeats.has(nodeId);
    this.heartbeats.set(nodeId, now);
    return known;
  }

  async deadNodes(now: number, ttlMs: number): Promise<string[]> {
    return [...this.heartbeats].filter(([, beat]) => beat < now - ttlMs).map(([nodeId]) => nodeId);
  }

  async sweepNode(nodeId: string): Promise<PresenceTransition[]> {
    this.heartbeats.delete(nodeId);
    const node = this.byNode.get(nodeId);
    this.byNode.delete(nodeId);
    const offline: PresenceTransition[] = [];
    for (const [key, count] of node ?? []) {
      const transition = this.release(key, count);
      if (transition) offline.push(transition);
    }
    return offline;
  }

  async leaveLobby(username: string, rev: number): Promise<number> {
    const key = nameKey(username);
    if (this.online.has(key) || (this.onlineRev.get(key) ?? 0) > rev) return 0;
    this.byName.delete(key);
    this.listed.delete(key);
    return this.revision.next();
  }

  async deferOffline(transition: PresenceTransition, dueAt: number): Promise<void> {
    this.pendingOffline.push({ transition, dueAt });
  }

  async takeDueOffline(now: number): Promise<PresenceTransition[]> {
    const due = this.pendingOffline.filter((entry) => entry.dueAt <= now);
    this.pendingOffline = this.pendingOffline.filter((entry) => entry.dueAt > now);
    return due.sort((a, b) => a.dueAt - b.dueAt).map((entry) => entry.transition);
  }

  private release(key: string, count: number): PresenceTransition | null {
    const entry = this.online.get(key);
    if (!entry) return null;
    entry.count -= count;
    if (entry.count > 0) return null;
    this.online.delete(key);
    return { username: entry.username, rev: this.revision.next() };
  }
}
