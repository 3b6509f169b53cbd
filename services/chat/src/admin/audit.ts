import type { Logger } from "../logger.js";
import type { AuditEntry, AuditStore } from "../stores/types.js";

/** Audit entries kept in the store (the oldest are dropped). */
export const AUDIT_KEEP = 1000;

/**
 * Puts an operator's action on record: the pino line first, so the action is in the logs even if
 * the store fails, then the entry in the store's capped trail. Every admin tool records through it.
 */
export async function recordAudit(audit: AuditStore, logger: Logger, entry: AuditEntry): Promise<void> {
  logger.info({ event: "admin_audit", ...entry }, `admin: ${entry.action} ${entry.target}: ${entry.outcome}`);
  await audit.append(entry, AUDIT_KEEP);
}
