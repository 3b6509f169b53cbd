/**
 * `npm run admin -- migrate [--dry-run] [--force]` (`sala-admin migrate` in the image): brings the
 * configured Redis store's data up to this Sala's schema version (stores/schema.ts), running the
 * migrations of REDIS_MIGRATIONS in order from the stored version and recording each version as it
 * is reached, so that a run cut short resumes where it stopped. Each migration is idempotent.
 *
 * It refuses, changing nothing: data of a newer version (this tool would not know it), data in the
 * layout before Redis Cluster support (migrate-to-cluster moves it first, and leaves it at the
 * current version), and running nodes (a heartbeat within LIVE_NODE_MS) unless every pending
 * migration is safe to run while nodes serve; `--force` overrides the last. Every run that changes
 * something leaves an audit entry (a pino line and a record in the store).
 */
import type { Logger } from "../logger.js";
import type { RedisClient } from "../redis.js";
import { applyMigrations, MigrationFailure, pendingMigrations, SCHEMA_VERSION, SchemaVersionError, type AppliedMigration, type MigrationStep } from "../stores/schema.js";
import { RedisAuditStore } from "../stores/redis/audit.js";
import { RedisKeys } from "../stores/redis/keys.js";
import { holdsSalaData, raiseSchemaVersion, readSchemaVersion } from "../stores/redis/schema.js";
import { checkLayout, LegacyLayoutError, repairer } from "../stores/redis/startup.js";
import { connectAdminTool } from "./tool-client.js";
import { AdminError } from "./admin-error.js";
import { recordAudit } from "./audit.js";
import { LIVE_NODE_MS, liveNodes } from "./migrate.js";
import type { StoreToolRun } from "./store-tools.js";

/** A step of the Redis store's migration list. */
export interface RedisMigration extends MigrationStep {
  /** Does the work; returns one line on what it did. */
  run(redis: RedisClient, keys: RedisKeys, logger: Logger): Promise<string>;
}

/** One step per schema version, in order (pendingMigrations checks it). */
export const REDIS_MIGRATIONS: readonly RedisMigration[] = [
  {
    to: 1,
    summary: "build the user directory (every account by name) and the other derived indexes: the repair",
    // The repair runs at every node's start too: it only adds what is missing, on a live store.
    online: true,
    async run(redis, keys) {
      const { clashes, ...counts } = await repairer(redis, keys)();
      const parts = Object.entries(counts).map(([name, count]) => `${name}=${count}`);
      return `repair: ${[...parts, `clashes=${clashes.length}`].join(" ")}`;
    },
  },
];

export interface SchemaMigrateOptions {
  dryRun: boolean;
  force: boolean;
}

export const SCHEMA_MIGRATE_USAGE = "migrate [--dry-run] [--force]";

/** Parses `[--dry-run] [--force]`; throws AdminError (usage) on anything else. */
export function parseSchemaMigrateArgs(args: string[]): SchemaMigrateOptions {
  const options: SchemaMigrateOptions = { dryRun: false, force: false };
  for (const arg of args) {
    if (arg === "--dry-run") options.dryRun = true;
    else if (arg === "--force") options.force = true;
    else throw new AdminError(`unknown argument: ${arg}\nusage: npm run admin -- ${SCHEMA_MIGRATE_USAGE}`, "usage");
  }
  return options;
}

export interface SchemaMigration {
  redis: RedisClient;
  keys: RedisKeys;
  logger: Logger;
  actor: string;
  options: SchemaMigrateOptions;
  /** The list and the version to reach (tests give their own). */
  migrations?: readonly RedisMigration[];
  latest?: number;
}

/** Runs the pending migrations of `migration`; returns what to tell the operator, or throws AdminError. */
export async function migrateSchema(migration: SchemaMigration): Promise<string> {
  const { redis, keys, logger, options } = migration;
  const migrations = migration.migrations ?? REDIS_MIGRATIONS;
  const latest = migration.latest ?? SCHEMA_VERSION;
  const where = `prefix ${keys.prefix}`;
  try {
    await checkLayout(redis, keys);
  } catch (error) {
    if (!(error instanceof LegacyLayoutError)) throw error;
    throw new AdminError(
      `${where}: the data is in the layout before Redis Cluster support: run \`npm run admin -- migrate-to-cluster --from <its redis:// URL>\` first ` +
        `(docs/OPERATIONS.md); it leaves the data at schema version ${latest}`,
    );
  }
  let stored: number | null;
  try {
    stored = await readSchemaVersion(redis, keys);
  } catch (error) {
    if (error instanceof SchemaVersionError) throw new AdminError(`${where}: ${error.message}; nothing changed`);
    throw error;
  }
  if (stored === null) {
    if (!(await holdsSalaData(redis, keys))) {
      return `${where}: no Sala data, nothing to migrate (is REDIS_PREFIX the nodes' one?); the first node to start marks the store with schema version ${latest}`;
    }
    stored = 0;
  }
  if (stored > latest) {
    throw new AdminError(
      `${where}: the data was written by a newer Sala (schema version ${stored}); this sala-admin knows schema versions up to ${latest}: ` +
        "nothing changed. Run the newer Sala's `sala-admin migrate` if there is anything to do, or restore the backup taken before the upgrade",
    );
  }
  if (stored === latest) return `${where}: already at schema version ${latest}, nothing to migrate`;

  const pending = pendingMigrations(migrations, stored, latest);
  const offline = pending.filter((step) => !step.online);
  const was = stored === 0 ? "0 (none recorded: data from before schema versions)" : String(stored);
  const lines = [
    `${where}: schema version ${was}, this Sala's is ${latest}: ${pending.length} migration(s) to run`,
    ...pending.map((step) => `  to ${step.to}: ${step.summary} (${step.online ? "safe while nodes run" : "needs every node stopped"})`),
  ];
  const running = await liveNodes(redis, keys, Date.now());
  if (running.length > 0) {
    const heard = `node(s) ${running.join(", ")} heartbeat(ed) within ${LIVE_NODE_MS / 1000} s`;
    if (offline.length > 0 && !options.force) {
      throw new AdminError(
        [...lines, `${heard}, and the migration(s) to version ${offline.map((step) => step.to).join(", ")} need every node stopped: stop them first (--force migrates anyway); nothing changed`].join("\n"),
      );
    }
    lines.push(offline.length > 0 ? `${heard}: migrating anyway (--force)` : `${heard}: every pending migration is safe while they run`);
  }
  if (options.dryRun) return [...lines, "dry run: nothing changed"].join("\n");

  logger.info({ event: "schema_migrate_started", from: stored, to: latest, pending: pending.length, nodes: running.length }, "migrate: running the pending schema migrations");
  const audit = async (outcome: string) => {
    const entry = { ts: Date.now(), actor: migration.actor, action: "migrate", target: `schema ${stored}->${latest}`, outcome };
    await recordAudit(new RedisAuditStore(redis, keys), logger, entry);
  };
  let applied: AppliedMigration[];
  try {
    applied = await applyMigrations(pending, (step) => step.run(redis, keys, logger), (to) => reached(redis, keys, logger, to));
  } catch (error) {
    if (!(error instanceof MigrationFailure)) throw error;
    const at = error.applied.at(-1)?.to ?? stored;
    await audit(`failed at ${error.to}: ${error.reason.message}`).catch(() => undefined);
    throw new AdminError(
      [...lines, ...error.applied.map(describe), `${error.message}`, `the data is at schema version ${at}: fix the cause and run migrate again to go on from there`].join("\n"),
    );
  }
  await audit("done");
  return [...lines, ...applied.map(describe), `done: the data is at schema version ${latest}; start the nodes of this version`].join("\n");
}

function describe(step: AppliedMigration): string {
  return `migrated to ${step.to} in ${step.ms} ms: ${step.outcome}`;
}

async function reached(redis: RedisClient, keys: RedisKeys, logger: Logger, version: number): Promise<void> {
  await raiseSchemaVersion(redis, keys, version);
  logger.info({ event: "schema_version_reached", version }, `data at schema version ${version}`);
}

/**
 * For migrate-to-cluster, whose repair is the migration to version 1: records `reached` (at least
 * 1), then runs the migrations after it. Returns what ran.
 */
export async function migrateOnFrom(redis: RedisClient, keys: RedisKeys, logger: Logger, reachedVersion: number): Promise<AppliedMigration[]> {
  const stored = await raiseSchemaVersion(redis, keys, reachedVersion);
  return applyMigrations(pendingMigrations(REDIS_MIGRATIONS, stored), (step) => step.run(redis, keys, logger), (to) => reached(redis, keys, logger, to));
}

/** The STORE_TOOLS entry: connects to the configured store and runs migrateSchema. */
export async function runSchemaMigrate({ target, args, logger, actor }: StoreToolRun): Promise<string> {
  const options = parseSchemaMigrateArgs(args);
  const keys = new RedisKeys(target.prefix);
  const redis: RedisClient = await connectAdminTool(target);
  try {
    return await migrateSchema({ redis, keys, logger, actor, options });
  } catch (error) {
    if (error instanceof AdminError) throw error;
    throw new AdminError(`migrate failed: ${(error as Error).message}`);
  } finally {
    redis.disconnect();
  }
}
