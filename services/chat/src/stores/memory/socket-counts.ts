import { socketCountFields, tallyFields } from "../socket-count-fields.js";
import type { SocketAdmission, SocketCaps, SocketCountStore } from "../types.js";

interface NodeCounts {
  /** Until when (ms) the counts are live. */
  liveUntil: number;
  /** Written or kept alive by the node itself (the Redis store's `_` field). */
  stamped: boolean;
  fields: Map<string, number>;
}

/** The memory twin of RedisSocketCountStore (embedded mode: one node, but the same rules). */
export class MemorySocketCountStore implements SocketCountStore {
  private readonly nodes = new Map<string, NodeCounts>();

  async acquire(nodeId: string, username: string, address: string, caps: SocketCaps, now: number, ttlMs: number): Promise<SocketAdmission> {
    for (const [id, counts] of this.nodes) if (counts.liveUntil <= now) this.nodes.delete(id);
    const own = this.nodeCounts(nodeId);
    own.liveUntil = now + ttlMs;
    const fields = socketCountFields(username, address);
    let users = 0;
    let addresses = 0;
    for (const counts of this.nodes.values()) {
      users += counts.fields.get(fields.user) ?? 0;
      addresses += counts.fields.get(fields.address) ?? 0;
    }
    if (caps.perUser > 0 && users >= caps.perUser) return "user";
    if (caps.perAddress > 0 && addresses >= caps.perAddress) return "address";
    for (const field of [fields.user, fields.address]) own.fields.set(field, (own.fields.get(field) ?? 0) + 1);
    return "ok";
  }

  async release(nodeId: string, username: string, address: string): Promise<void> {
    const own = this.nodes.get(nodeId);
    if (!own) return;
    for (const field of Object.values(socketCountFields(username, address))) {
      const left = own.fields.get(field) ?? 0;
      if (left > 1) own.fields.set(field, left - 1);
      else own.fields.delete(field);
    }
  }

  async keepAlive(nodeId: string, now: number, ttlMs: number): Promise<boolean> {
    const own = this.nodes.get(nodeId);
    if (!own || own.liveUntil <= now || !own.stamped) {
      if (!own || own.liveUntil <= now) this.nodes.delete(nodeId);
      return false;
    }
    own.liveUntil = now + ttlMs;
    return true;
  }

  async restore(nodeId: string, sockets: Array<{ username: string; address: string }>, now: number, ttlMs: number): Promise<void> {
    this.nodes.set(nodeId, { liveUntil: now + ttlMs, stamped: true, fields: tallyFields(sockets) });
  }

  async forgetNode(nodeId: string): Promise<void> {
    this.nodes.delete(nodeId);
  }

  private nodeCounts(nodeId: string): NodeCounts {
    let counts = this.nodes.get(nodeId);
    if (!counts) this.nodes.set(nodeId, (counts = { liveUntil: 0, stamped: false, fields: new Map() }));
    return counts;
  }
}
