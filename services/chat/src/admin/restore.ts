/**
 * `npm run admin -- restore FILE [--force] [--dry-run]`: puts a backup (backup.ts) into the store
 * the CLI is configured with, under its REDIS_PREFIX (the backup's own prefix may differ: each key
 * is stored relative to it, hash tag kept). On a Redis Cluster each RESTORE goes to its key's
 * primary.
 *
 * 1. The whole file is checked first (backup-format.ts: gzip, header, records, counts, sha256): a
 *    truncated or altered file is refused and nothing is written.
 * 2. It refuses while a node heartbeats on the target (they would write over the restore; stop
 *    them: `--force` does not override this), when the target's Redis is older than the one the
 *    backup was made on (RESTORE cannot read a newer DUMP), and when the target already holds
 *    Sala data, sessions or rate limits under the prefix: `--force` then deletes every key of the
 *    prefix first, so the target holds exactly the backup.
 * 3. Every key is RESTOREd with the TTL it had left; the keys per family are counted on the target
 *    against the file (memberships as they were: going offline is not leaving); an audit entry is
 *    written; the repair (stores/redis/repair.ts) rebuilds what scopes derive from one
 *    another (users' room sets, the room index and names, the lobby's and directory's indexes).
 */
import { resolve } from "node:path";
import type { RedisSettings } from "../config.js";
import type { Logger } from "../logger.js";
import { describeTarget, type RedisClient } from "../redis.js";
import { RedisAuditStore } from "../stores/redis/audit.js";
import { RedisKeys } from "../stores/redis/keys.js";
import { repairer } from "../stores/redis/startup.js";
import { SCHEMA_VERSION, startRefusal } from "../stores/schema.js";
import { recordAudit } from "./audit.js";
import { connectAdminTool } from "./tool-client.js";
import { AdminError } from "./admin-error.js";
import type { RestoreOptions } from "./backup-args.js";
import { readBackup, type BackupRecord, type CheckedBackup, type FamilyTally } from "./backup-format.js";
import { DATA_FAMILIES, type DataFamily } from "./backup-keys.js";
import { compareVersions, deleteAll, formatTally, serverVersions, tallyKeys } from "./backup-store.js";
import { LIVE_NODE_MS, liveNodes } from "./migrate.js";

/** RESTOREs in flight at once. */
const WIDTH = 64;

export interface RestoreRun {
  target: RedisSettings;
  options: RestoreOptions;
  logger: Logger;
  actor: string;
}

function describeBackup(file: string, checked: CheckedBackup): string {
  const { header } = checked;
  const source = header.source.kind === "redis-cluster" ? `a Redis Cluster of ${header.source.primaries} primaries` : "one Redis";
  const schema = header.schema === null ? "unversioned data (no schema version)" : `schema version ${header.schema}`;
  return `${file}: backup made ${header.createdAt} of prefix ${header.prefix} on ${source} (Redis ${header.source.redisVersion}), ${schema}`;
}

/** What the nodes of this version will say of the restored data's schema version. */
function schemaNote(schema: number | null): string {
  const refusal = startRefusal(schema ?? 0, SCHEMA_VERSION);
  return refusal ? `note: the nodes of this Sala will refuse to start: ${refusal}` : `data at schema version ${SCHEMA_VERSION}, this Sala's`;
}

/** Why a RESTORE failed, for the operator (never the command's arguments: they hold the data). */
function restoreFailure(key: string, error: Error, checked: CheckedBackup): AdminError {
  const message = error.message;
  const partial = "the target now holds part of the backup: once the cause is fixed, restore again with --force";
  if (message.includes("BUSYKEY")) return new AdminError(`${key} appeared on the target during the restore (did a node start on it?): ${partial}`);
  if (/payload version|checksum/i.test(message)) {
    return new AdminError(`the target refuses ${key}'s DUMP (${message}): restore into Redis ${checked.header.source.redisVersion} or newer; ${partial}`);
  }
  return new AdminError(`restoring ${key} failed: ${message}; ${partial}`);
}

/**
 * Reads the file again and RESTOREs each record under `prefix`, WIDTH at a time. The second read
 * checks everything again: should the file have changed since the first, it says so (some keys are
 * written by then).
 */
async function restoreRecords(redis: RedisClient, prefix: string, file: string, checked: CheckedBackup): Promise<{ restored: FamilyTally; lasting: FamilyTally }> {
  const restored: FamilyTally = {};
  const lasting: FamilyTally = {};
  const inFlight = new Set<Promise<void>>();
  let failure: AdminError | null = null;
  const restoreOne = async (record: BackupRecord) => {
    const key = `${prefix}:${record.k}`;
    try {
      await redis.restore(key, record.ttl, Buffer.from(record.d, "base64"));
    } catch (error) {
      failure ??= restoreFailure(key, error as Error, checked);
      return;
    }
    restored[record.f] = (restored[record.f] ?? 0) + 1;
    if (record.ttl === 0) lasting[record.f] = (lasting[record.f] ?? 0) + 1;
  };
  try {
    await readBackup(file, async (record) => {
      if (failure) throw failure;
      const running: Promise<void> = restoreOne(record).finally(() => inFlight.delete(running));
      inFlight.add(running);
      if (inFlight.size >= WIDTH) await Promise.race(inFlight);
    });
  } catch (error) {
    await Promise.allSettled([...inFlight]);
    if (error === failure) throw error;
    const why = (error as Error).message.replace(/; nothing restored$/, "");
    throw new AdminError(`${file} changed or became unreadable during the restore (${why}): the target now holds part of it; restore again with --force`);
  }
  await Promise.allSettled([...inFlight]);
  if (failure) throw failure;
  return { restored, lasting };
}

/** The keys per family on the target after the restore, against the file: a key without TTL that is missing fails the run. */
function verify(found: Record<DataFamily, number>, restored: FamilyTally, lasting: FamilyTally): string[] {
  const problems: string[] = [];
  for (const family of DATA_FAMILIES) {
    const least = lasting[family] ?? 0;
    const most = restored[family] ?? 0;
    if (found[family] < least) problems.push(`${family}: ${found[family]} key(s) on the target, at least ${least} expected`);
    else if (found[family] > most) problems.push(`${family}: ${found[family]} key(s) on the target, at most ${most} expected (did a node start on it?)`);
  }
  return problems;
}

export async function restoreStore(run: RestoreRun): Promise<string> {
  const { target: settings, options, logger } = run;
  const file = resolve(options.file);
  const checked = await readBackup(file);
  const counts = formatTally(checked.families, DATA_FAMILIES);
  const lines = [describeBackup(file, checked), `checked: ${checked.keys} key(s): ${counts}; sha256 ${checked.sha256}`];
  const keys = new RedisKeys(settings.prefix);
  const where = `${describeTarget(settings)}, prefix ${settings.prefix}`;
  const redis: RedisClient = await connectAdminTool(settings);
  try {
    const oldest = (await serverVersions(redis)).reduce((low, version) => (compareVersions(version, low) < 0 ? version : low));
    if (compareVersions(oldest, checked.header.source.redisVersion) < 0) {
      throw new AdminError(`the backup was made on Redis ${checked.header.source.redisVersion}; ${describeTarget(settings)} runs ${oldest}, which cannot RESTORE its data: upgrade it first; nothing restored`);
    }
    const running = await liveNodes(redis, keys, Date.now());
    if (running.length > 0) {
      throw new AdminError(`node(s) ${running.join(", ")} heartbeat(ed) on ${where} within ${LIVE_NODE_MS / 1000} s: stop every node first; nothing restored`);
    }
    // A node that started on the empty store marked it with its schema version: that is no data.
    const before = await tallyKeys(redis, settings.prefix, [keys.schemaVersion]);
    const occupied = before.data + before.tally.session + before.tally["rate-limit"];
    if (occupied > 0 && !options.force) {
      const what = formatTally(before.tally, [...DATA_FAMILIES, "session", "rate-limit"]);
      throw new AdminError(
        `${where} already holds Sala data (${what}${before.sample.length > 0 ? `; e.g. ${before.sample.join(", ")}` : ""}): nothing restored; ` +
          "--force deletes every key under the prefix first, then restores",
      );
    }
    if (options.dryRun) {
      lines.push(occupied > 0 ? `would delete every key under the prefix (${occupied} of data, sessions and rate limits), then restore` : `the target is empty: would restore`);
      return [...lines, `dry run: nothing written to ${where}`].join("\n");
    }

    const started = Date.now();
    if (options.force) {
      const deleted = await deleteAll(redis, settings.prefix);
      if (deleted > 0) lines.push(`--force: deleted ${deleted} key(s) under the prefix`);
    }
    // The data's version is the backup's (or none, for data from before versions), not the mark.
    await redis.del(keys.schemaVersion);
    const { restored, lasting } = await restoreRecords(redis, settings.prefix, file, checked);
    const restoredCount = Object.values(restored).reduce((sum, n) => sum + n, 0);
    logger.info({ event: "restore_written", file, ms: Date.now() - started, keys: restoredCount, ...restored }, "restore: keys written");
    const after = await tallyKeys(redis, settings.prefix);
    const problems = verify(after.tally, restored, lasting);
    if (problems.length > 0) throw new AdminError(`restored, but the target's key counts do not match the backup:\n  ${problems.join("\n  ")}`);
    lines.push(
      `restored ${restoredCount} key(s) in ${Date.now() - started} ms to ${where}: ${formatTally(restored, DATA_FAMILIES)}`,
      `verified on the target: ${formatTally(after.tally, DATA_FAMILIES)}`,
    );

    // Memberships are restored as they were: nobody is online after a restore, and going offline
    // is not leaving a room (presence is not in a backup; nodes count users again as they connect).
    const entry = { ts: Date.now(), actor: run.actor, action: "restore", target: file, outcome: `${restoredCount} key(s) from prefix ${checked.header.prefix} (${checked.header.createdAt}); sha256 ${checked.sha256}` };
    await recordAudit(new RedisAuditStore(redis, keys), logger, entry);

    const report = await repairer(redis, keys)();
    lines.push(
      `repair: ${report.idleRooms} empty room(s) marked idle, ${report.userSetFixes} user room-set entr(y/ies) fixed, ${report.userNames + report.roomNames} name(s) indexed, ${report.lobbyEntries} lobby entr(y/ies) fixed`,
      ...(report.clashes.length > 0 ? [`repair: look-alike or clashing names, both kept: ${report.clashes.join("; ")}`] : []),
      schemaNote(checked.header.schema),
      `done: start the nodes with ${settings.clusterNodes ? "REDIS_CLUSTER_NODES" : "REDIS_URL"} of this store and REDIS_PREFIX=${settings.prefix}; sessions are not in a backup: everyone logs in again`,
    );
    return lines.join("\n");
  } catch (error) {
    if (error instanceof AdminError) throw error;
    throw new AdminError(`restore failed: ${(error as Error).message}`);
  } finally {
    redis.disconnect();
  }
}
