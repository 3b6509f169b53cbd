/**
 * The admin tools that work on a Redis store as a whole rather than through Sala's store
 * interfaces (commands.ts): moving, copying or upgrading the data itself. cli.ts runs them with the
 * configured Redis target (REDIS_URL or REDIS_CLUSTER_NODES, REDIS_PREFIX); embedded (no Redis) a
 * tool says what to do instead (`embedded`).
 */
import type { RedisSettings } from "../config.js";
import type { Logger } from "../logger.js";
import { migrateToCluster } from "./migrate.js";
import { MIGRATE_USAGE, parseMigrateArgs } from "./migrate-keys.js";
import { AdminError } from "./admin-error.js";

export interface StoreToolRun {
  target: RedisSettings;
  args: string[];
  logger: Logger;
  /** The OS user running the CLI, for the audit trail. */
  actor: string;
}

export interface StoreTool {
  /** The command line after `npm run admin --`, for the usage text. */
  usage: string;
  summary: string;
  /** What the CLI answers when no Redis is configured (embedded mode). */
  embedded: string;
  /** Does the work; returns what to tell the operator, or throws AdminError. */
  run(run: StoreToolRun): Promise<string>;
}

export const STORE_TOOLS: Record<string, StoreTool> = {
  "migrate-to-cluster": {
    usage: MIGRATE_USAGE,
    summary: "copy a single Redis's data (--from) to the configured store, renaming the old global keys (docs/OPERATIONS.md)",
    embedded: "migrate-to-cluster writes to the configured store: set REDIS_CLUSTER_NODES (or REDIS_URL) and REDIS_PREFIX as the nodes will have them",
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
};

export function isStoreTool(command: string): boolean {
  return Object.hasOwn(STORE_TOOLS, command);
}
