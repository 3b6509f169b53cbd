/**
 * The admin tools that work on a Redis store as a whole rather than through Sala's store
 * interfaces (commands.ts): moving, copying or upgrading the data itself. cli.ts runs them with the
 * configured Redis target (REDIS_URL or REDIS_CLUSTER_NODES, REDIS_PREFIX); embedded (no Redis), on
 * the node's SQLite file (STORE, DATA_DIR) when the tool has a `sqlite` side, and otherwise the
 * tool says what to do instead (`embedded`).
 */
import type { RedisSettings } from "../config.js";
import type { Logger } from "../logger.js";
import { migrateToCluster } from "./migrate.js";
import { MIGRATE_USAGE, parseMigrateArgs } from "./migrate-keys.js";
import { runSchemaMigrate } from "./schema-migrate.js";
import { AdminError } from "./admin-error.js";
import { backupStore } from "./backup.js";
import { BACKUP_USAGE, parseBackupArgs, parseRestoreArgs, RESTORE_USAGE } from "./backup-args.js";
import { restoreStore } from "./restore.js";
import { backupSqlite, type SqliteStore } from "./sqlite-backup.js";
import { restoreSqlite } from "./sqlite-restore.js";

export interface StoreToolRun {
  target: RedisSettings;
  args: string[];
  logger: Logger;
  /** The OS user running the CLI, for the audit trail. */
  actor: string;
}

/** A tool run on the embedded node's SQLite store. */
export interface SqliteToolRun {
  store: SqliteStore;
  /** The node's admin socket (PORT or ADMIN_SOCKET): a node answering there is running. */
  adminSocket: string;
  args: string[];
  logger: Logger;
  actor: string;
}

export interface StoreTool {
  /** The command line after `npm run admin --`, for the usage text. */
  usage: string;
  summary: string;
  /** What the CLI answers when no Redis is configured and the tool has no `sqlite` side, or STORE=memory. */
  embedded: string;
  /** Does the work; returns what to tell the operator, or throws AdminError. */
  run(run: StoreToolRun): Promise<string>;
  /** The same on the embedded node's SQLite store, for the tools that have it. */
  sqlite?(run: SqliteToolRun): Promise<string>;
}

/** STORE=memory has no store to back up or restore into. */
const EMBEDDED_BACKUP =
  "STORE=memory: the embedded node keeps its data in its memory and loses it when it stops; there is nothing on disk to back up or restore into. " +
  "backup and restore work on the SQLite store (STORE=sqlite, the default without Redis: DATA_DIR as the node has it) " +
  "and on Redis (REDIS_URL or REDIS_CLUSTER_NODES, and REDIS_PREFIX, as the nodes have them)";

/** Parses with `parse`, or throws a usage AdminError naming the command line. */
function usage<T>(parse: () => T, line: string): T {
  try {
    return parse();
  } catch (error) {
    throw new AdminError(`${(error as Error).message}\nusage: npm run admin -- ${line}`, "usage");
  }
}

export const STORE_TOOLS: Record<string, StoreTool> = {
  "migrate-to-cluster": {
    usage: MIGRATE_USAGE,
    summary: "copy a single Redis's data (--from) to the configured store, renaming the old global keys (docs/OPERATIONS.md)",
    embedded:
      "migrate-to-cluster writes to the configured store: set REDIS_CLUSTER_NODES (or REDIS_URL) and REDIS_PREFIX as the nodes will have them. " +
      "It copies from a single Redis: moving an embedded node's data (SQLite or memory) to Redis is not supported yet",
    async run({ target, args, logger, actor }) {
      let options;
      try {
        options = parseMigrateArgs(args);
      } catch (error) {
        throw new AdminError(`${(error as Error).message}\nusage: npm run admin -- ${MIGRATE_USAGE}`, "usage");
      }
      return migrateToCluster({ target, options, logger, actor });
    },
  },
  migrate: {
    // Written out (not schema-migrate's constant): that module imports this one's importers.
    usage: "migrate [--dry-run] [--force]",
    summary: "bring the data up to this Sala's schema version: once after an upgrade that needs it (CHANGELOG.md, docs/OPERATIONS.md)",
    embedded:
      "nothing to migrate: embedded stores live in the node's memory (STORE=memory), always at this Sala's schema version, or in its SQLite file " +
      "(STORE=sqlite), which a node opens only at its own schema version (there are no SQLite migrations yet: it refuses a file of another one)",
    run: (run) => runSchemaMigrate(run),
  },
  backup: {
    usage: BACKUP_USAGE,
    summary: "write a snapshot of the data (no sessions) to FILE, mode 0600: Redis: gzip, sha256-checked; SQLite store: a SQLite file (docs/OPERATIONS.md)",
    embedded: EMBEDDED_BACKUP,
    async run({ target, args, logger, actor }) {
      const { file } = usage(() => parseBackupArgs(args), BACKUP_USAGE);
      return backupStore({ target, file, logger, actor });
    },
    async sqlite({ store, args, logger, actor }) {
      const { file } = usage(() => parseBackupArgs(args), BACKUP_USAGE);
      return backupSqlite({ store, file, logger, actor });
    },
  },
  restore: {
    usage: RESTORE_USAGE,
    summary: "check FILE whole, then restore it into an empty store (--force: Redis: delete the prefix's keys first; SQLite: keep the current file aside); nodes stopped",
    embedded: EMBEDDED_BACKUP,
    async run({ target, args, logger, actor }) {
      const options = usage(() => parseRestoreArgs(args), RESTORE_USAGE);
      return restoreStore({ target, options, logger, actor });
    },
    async sqlite({ store, adminSocket, args, logger, actor }) {
      const options = usage(() => parseRestoreArgs(args), RESTORE_USAGE);
      return restoreSqlite({ store, adminSocket, options, logger, actor });
    },
  },
};

export function isStoreTool(command: string): boolean {
  return Object.hasOwn(STORE_TOOLS, command);
}
