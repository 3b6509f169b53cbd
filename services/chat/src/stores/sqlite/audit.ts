import type { Statement } from "better-sqlite3";
import type { AuditEntry, AuditStore } from "../types.js";
import { writeTransaction, type SqliteDatabase } from "./database.js";

/** Entries dropped per append at most: a lowered `keep` shrinks the trail over a few appends, never in one long call. */
const TRIM_CHUNK = 1000;

/** The audit trail in `audit_log` (account-tables.ts): ids grow by one per entry, newest last. */
export class SqliteAuditStore implements AuditStore {
  private readonly insert: Statement<AuditEntry>;
  private readonly trim: Statement<[number, number]>;
  private readonly latest: Statement<[number], AuditEntry>;
  private readonly appendTx: (entry: AuditEntry, keep: number) => void;

  constructor(db: SqliteDatabase) {
    this.insert = db.prepare("INSERT INTO audit_log (ts, actor, action, target, outcome) VALUES (@ts, @actor, @action, @target, @outcome)");
    // The oldest entries by id (the primary key), a bounded number at a time.
    this.trim = db.prepare("DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE id <= ? ORDER BY id LIMIT ?)");
    this.latest = db.prepare("SELECT ts, actor, action, target, outcome FROM audit_log ORDER BY id DESC LIMIT ?");
    this.appendTx = writeTransaction(db, (entry: AuditEntry, keep: number) => {
      const { ts, actor, action, target, outcome } = entry;
      const id = Number(this.insert.run({ ts, actor, action, target, outcome }).lastInsertRowid);
      // Only the oldest entries are ever deleted, so ids have no gaps: the latest `keep` are the last `keep` ids.
      this.trim.run(id - Math.max(0, keep), TRIM_CHUNK);
    });
  }

  async append(entry: AuditEntry, keep: number): Promise<void> {
    this.appendTx(entry, keep);
  }

  async recent(limit: number): Promise<AuditEntry[]> {
    return this.latest.all(Math.max(0, limit));
  }
}
