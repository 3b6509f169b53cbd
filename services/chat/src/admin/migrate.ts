/**
 * `npm run admin -- migrate-to-cluster --from <redis:// URL> [--dry-run] [--force]`: moves a data
 * set of the layout before Redis Cluster support (one Redis, global keys without a hash tag) to
 * the store the CLI is configured with (REDIS_CLUSTER_NODES, or REDIS_URL), under the same
 * REDIS_PREFIX, renaming the global keys as migrate-keys.ts says. The nodes are stopped meanwhile.
 *
 * - Copy (the target is another store): every key of the prefix is read with DUMP and PTTL and
 *   written with RESTORE, its TTL kept; the source is left as it was (the rollback is to start the
 *   old nodes on it again), and the operator deletes it once the cluster serves.
 * - In place (REDIS_URL names the same server as --from, told by its run_id): the old global
 *   names are RENAMEd (atomic, TTL kept) and the old metrics samples deleted; nothing else moves.
 *
 * Then the key counts per family are checked on the target, an audit entry written there and the
 * repair run (stores/redis/repair.ts), which fills what the new layout derives (idle marks, room
 * sets, look-alike keys, the user directory): that is the migration to schema version 1
 * (stores/schema.ts), so the target is left at the current version, as nodes need it. It refuses,
 * changing nothing, while nodes still heartbeat on either side or when the target already holds
 * Sala data of the prefix (`--force` overrides both: RESTORE then replaces keys of the same name),
 * and when the source is of a newer schema version. The schema version key itself is not copied:
 * the target's is written at the end.
 */
import { Cluster, Redis } from "ioredis";
import type { RedisSettings } from "../config.js";
import type { Logger } from "../logger.js";
import { connectTool, describeTarget, type RedisClient } from "../redis.js";
import { RedisAuditStore } from "../stores/redis/audit.js";
import { RedisKeys } from "../stores/redis/keys.js";
import { scanKeys } from "../stores/redis/repair.js";
import { readSchemaVersion } from "../stores/redis/schema.js";
import { checkLayout, repairer } from "../stores/redis/startup.js";
import { SCHEMA_VERSION } from "../stores/schema.js";
import { recordAudit } from "./audit.js";
import { AdminError } from "./admin-error.js";
import { emptyCounts, FAMILIES, formatCounts, planKey, type FamilyCounts, type KeyPlan, type MigrateOptions } from "./migrate-keys.js";
import { migrateOnFrom } from "./schema-migrate.js";

/** A node whose heartbeat is this recent is taken to be running (NODE_TTL_MS is 10 s by default). */
export const LIVE_NODE_MS = 30_000;
/** Keys read (DUMP + PTTL, one pipeline) and written (RESTOREs in flight) at a time. */
const BATCH = 200;

interface Planned extends KeyPlan {
  source: string;
}

export interface MigrationRun {
  target: RedisSettings;
  options: MigrateOptions;
  logger: Logger;
  actor: string;
}

const redact = (url: string) => url.replace(/\/\/[^@/]*@/, "//***@");

/** SCAN MATCH treats `*?[]\` as a pattern: a prefix is matched as written. */
const globEscape = (text: string) => text.replace(/[*?[\]\\]/g, "\\$&");

async function connectSource(url: string): Promise<Redis> {
  const source = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 5000, retryStrategy: () => null });
  // Reported below: ioredis says only "Connection is closed" when the connection never opened.
  let cause: Error | undefined;
  source.on("error", (error: Error) => (cause = error));
  try {
    await source.connect();
    if (/^cluster_enabled:1/m.test(await source.info("cluster"))) {
      throw new AdminError(`--from ${redact(url)} is a Redis Cluster node: give the single Redis the data is on`, "usage");
    }
  } catch (error) {
    source.disconnect();
    if (error instanceof AdminError) throw error;
    throw new AdminError(`cannot reach the source Redis at ${redact(url)}: ${(cause ?? (error as Error)).message}`);
  }
  return source;
}

function runId(info: string): string | undefined {
  return /^run_id:(\w+)/m.exec(info)?.[1];
}

/** The ids of nodes that heartbeat lately, under the old or the new name of the node list. */
export async function liveNodes(redis: RedisClient, keys: RedisKeys, now: number): Promise<string[]> {
  const lists = [`${keys.prefix}:nodes`, keys.nodes];
  const found = await Promise.all(lists.map((list) => redis.zrangebyscore(list, now - LIVE_NODE_MS, "+inf")));
  return [...new Set(found.flat())];
}

async function planSource(source: Redis, prefix: string): Promise<Planned[]> {
  const planned: Planned[] = [];
  for await (const key of scanKeys(source, `${globEscape(prefix)}:*`)) planned.push({ source: key, ...planKey(prefix, key) });
  return planned;
}

/** Keys of the prefix on the target that hold data (not live state, not the schema version a node marked it with), by family. */
async function targetData(target: RedisClient, prefix: string): Promise<{ counts: FamilyCounts; sample: string[] }> {
  const counts = emptyCounts();
  const sample: string[] = [];
  const version = new RedisKeys(prefix).schemaVersion;
  for await (const key of scanKeys(target, `${globEscape(prefix)}:*`)) {
    if (key === version) continue;
    const { family } = planKey(prefix, key);
    counts[family]++;
    if (family !== "live" && sample.length < 5) sample.push(key);
  }
  return { counts, sample };
}

function dataCount(counts: FamilyCounts): number {
  return FAMILIES.filter((family) => family !== "live").reduce((sum, family) => sum + counts[family], 0);
}

interface CopyResult {
  copied: FamilyCounts;
  /** Copied keys without a TTL: they must all be on the target afterwards. */
  lasting: FamilyCounts;
  /** Keys that expired or were deleted between the SCAN and the DUMP. */
  vanished: number;
}

async function copyKeys(source: Redis, target: RedisClient, plans: Planned[], force: boolean): Promise<CopyResult> {
  const result: CopyResult = { copied: emptyCounts(), lasting: emptyCounts(), vanished: 0 };
  const copying = plans.filter((plan) => plan.target !== null);
  for (let start = 0; start < copying.length; start += BATCH) {
    const batch = copying.slice(start, start + BATCH);
    const pipeline = source.pipeline();
    for (const plan of batch) pipeline.dumpBuffer(plan.source).pttl(plan.source);
    const replies = (await pipeline.exec()) ?? [];
    await Promise.all(
      batch.map(async (plan, i) => {
        const [dumpError, dump] = replies[2 * i] ?? [];
        const [ttlError, ttl] = replies[2 * i + 1] ?? [];
        if (dumpError || ttlError) throw dumpError ?? ttlError;
        if (dump === null || ttl === -2) {
          result.vanished++;
          return;
        }
        const ms = Number(ttl) > 0 ? Number(ttl) : 0;
        try {
          if (force) await target.restore(plan.target!, ms, dump as Buffer, "REPLACE");
          else await target.restore(plan.target!, ms, dump as Buffer);
        } catch (error) {
          const message = (error as Error).message;
          if (message.includes("BUSYKEY")) throw new AdminError(`${plan.target} appeared on the target during the copy: is a node running on it? (--force replaces it)`);
          if (/payload version|checksum/i.test(message)) {
            throw new AdminError(`the target refuses ${plan.source}'s DUMP (${message}): its Redis is older than the source's; upgrade the cluster's Redis first`);
          }
          throw error;
        }
        result.copied[plan.family]++;
        if (ms === 0) result.lasting[plan.family]++;
      }),
    );
  }
  return result;
}

/** Renames the old global names on the same server, and deletes the old live keys. */
async function renameInPlace(redis: Redis, prefix: string, plans: Planned[]): Promise<{ renamed: number; deleted: number }> {
  let renamed = 0;
  let deleted = 0;
  for (const plan of plans) {
    if (plan.renamed && plan.target) {
      // RENAME keeps the TTL and replaces a key of the new name (the caller refused that without --force).
      await redis.rename(plan.source, plan.target);
      renamed++;
    } else if (plan.family === "live" && !plan.source.startsWith(`${prefix}:{`)) {
      // An old-named metrics sample: nothing reads it any more.
      deleted += await redis.del(plan.source);
    }
  }
  return { renamed, deleted };
}

/** Keys on the target per family after the move; a key copied without TTL that is missing fails the run. */
function verify(found: FamilyCounts, expected: CopyResult, force: boolean, before: FamilyCounts): string[] {
  const problems: string[] = [];
  for (const family of FAMILIES) {
    if (family === "live") continue;
    const least = expected.lasting[family] + (force ? 0 : before[family]);
    const most = expected.copied[family] + before[family];
    if (found[family] < least) problems.push(`${family}: ${found[family]} key(s) on the target, at least ${least} expected`);
    else if (found[family] > most) problems.push(`${family}: ${found[family]} key(s) on the target, at most ${most} expected (did a node start on it?)`);
  }
  return problems;
}

export async function migrateToCluster(run: MigrationRun): Promise<string> {
  const { target: settings, options, logger } = run;
  const keys = new RedisKeys(settings.prefix);
  const source = await connectSource(options.from);
  let target: RedisClient | undefined;
  try {
    try {
      target = await connectTool(settings);
    } catch (error) {
      throw new AdminError(`cannot reach ${describeTarget(settings)}: ${(error as Error).message}`);
    }
    const inPlace = !(target instanceof Cluster) && runId(await target.info("server")) === runId(await source.info("server"));
    const now = Date.now();
    const running = [...(await liveNodes(source, keys, now)), ...(inPlace ? [] : await liveNodes(target, keys, now))];
    if (running.length > 0 && !options.force) {
      throw new AdminError(`node(s) ${running.join(", ")} heartbeat(ed) within ${LIVE_NODE_MS / 1000} s: stop every node first (--force moves anyway)`);
    }
    // Data a newer Sala wrote: this tool would not know what its migrations did.
    const sourceVersion = await readSchemaVersion(source, keys);
    if (sourceVersion !== null && sourceVersion > SCHEMA_VERSION) {
      throw new AdminError(`the source's data was written by a newer Sala (schema version ${sourceVersion}); this sala-admin knows up to ${SCHEMA_VERSION}: use that Sala's; nothing copied`);
    }

    const plans = await planSource(source, settings.prefix);
    const seen = emptyCounts();
    for (const plan of plans) seen[plan.family]++;
    const renames = plans.filter((plan) => plan.renamed);
    const from = `source ${describeTarget({ url: options.from })}, prefix ${settings.prefix}`;
    const lines = [`${from}: ${plans.length} key(s): ${formatCounts(seen)}`];
    logger.info({ event: "migrate_planned", inPlace, dryRun: options.dryRun, ...seen }, "migrate-to-cluster: source scanned");
    if (dataCount(seen) === 0) throw new AdminError(`${from}: no Sala data under this prefix (is REDIS_PREFIX the nodes' one?)`);

    if (inPlace) {
      const clashes = (await Promise.all(renames.map(async (plan) => ((await source.exists(plan.target!)) ? plan.target! : null)))).filter(Boolean);
      if (clashes.length > 0 && !options.force) {
        throw new AdminError(`both the old and the new name hold data (${clashes.join(", ")}): was it upgraded already? --force keeps the old names' data`);
      }
      lines.push(`in place on the same Redis: ${renames.length} global key(s) to rename to {global}`);
      if (options.dryRun) return [...lines, "dry run: nothing changed"].join("\n");
      const { renamed, deleted } = await renameInPlace(source, settings.prefix, plans);
      lines.push(`renamed ${renamed} key(s); deleted ${deleted} old metrics key(s) (the nodes write new samples)`);
    } else {
      const before = await targetData(target, settings.prefix);
      if (dataCount(before.counts) > 0 && !options.force) {
        throw new AdminError(
          `${describeTarget(settings)} already holds Sala data under prefix ${settings.prefix} (${formatCounts(before.counts)}; e.g. ${before.sample.join(", ")}): ` +
            "nothing copied; --force copies over it, replacing keys of the same name",
        );
      }
      lines.push(`${renames.length} global key(s) renamed to {global}; ${seen.live} live key(s) skipped (metrics samples, socket tallies: the nodes write their own as they start)`);
      if (options.dryRun) return [...lines, `dry run: nothing copied to ${describeTarget(settings)}`].join("\n");
      const started = Date.now();
      const copy = await copyKeys(source, target, plans.filter((plan) => plan.target !== keys.schemaVersion), options.force);
      logger.info({ event: "migrate_copied", ms: Date.now() - started, vanished: copy.vanished, ...copy.copied }, "migrate-to-cluster: keys copied");
      const after = await targetData(target, settings.prefix);
      const problems = verify(after.counts, copy, options.force, before.counts);
      if (problems.length > 0) throw new AdminError(`copied, but the target's key counts do not match:\n  ${problems.join("\n  ")}`);
      lines.push(
        `copied ${dataCount(copy.copied)} key(s) in ${Date.now() - started} ms: ${formatCounts(copy.copied)}` + (copy.vanished > 0 ? ` (${copy.vanished} expired meanwhile)` : ""),
        `verified on the target: ${formatCounts({ ...after.counts, live: 0 })}`,
      );
    }

    // A node would refuse this store if an old name were left; the same check says it is gone.
    await checkLayout(target, keys);
    const entry = { ts: Date.now(), actor: run.actor, action: "migrate-to-cluster", target: redact(options.from), outcome: formatCounts(seen) };
    await recordAudit(new RedisAuditStore(target, keys), logger, entry);

    const report = await repairer(target, keys)();
    // The repair is the migration to schema version 1: recorded, and any later one run from there.
    const later = await migrateOnFrom(target, keys, logger, Math.max(1, sourceVersion ?? 0));
    lines.push(
      `repair: ${report.idleRooms} empty room(s) marked idle, ${report.userSetFixes} user room-set entr(y/ies) fixed, ${report.userNames + report.roomNames} name(s) indexed`,
      ...later.map((step) => `migrated to schema version ${step.to}: ${step.outcome}`),
      `data at schema version ${SCHEMA_VERSION}`,
      inPlace
        ? "done: start the nodes with the same REDIS_URL and REDIS_PREFIX"
        : `done: start the nodes with REDIS_CLUSTER_NODES (or the target's REDIS_URL) and REDIS_PREFIX=${settings.prefix}; the source is untouched: delete its keys once the cluster serves`,
    );
    return lines.join("\n");
  } catch (error) {
    if (error instanceof AdminError) throw error;
    throw new AdminError(`migrate-to-cluster failed: ${(error as Error).message}`);
  } finally {
    source.disconnect();
    target?.disconnect();
  }
}
