import type { AuditEntry, AuditStore } from "../types.js";

export class MemoryAuditStore implements AuditStore {
  /** Newest first. */
  private readonly entries: AuditEntry[] = [];

  async append(entry: AuditEntry, keep: number): Promise<void> {
    this.entries.unshift({ ...entry });
    this.entries.splice(keep);
  }

  async recent(limit: number): Promise<AuditEntry[]> {
    return this.entries.slice(0, limit).map((entry) => ({ ...entry }));
  }
}
