/**
 * `npm run admin -- backup FILE`: a snapshot of Sala's persistent data under REDIS_PREFIX, on one
 * Redis or on every primary of a Redis Cluster, in the file format of backup-format.ts. What it
 * holds is backup-keys.ts's rule: users, rooms (meta, members, keys, history, bars, message ids),
 * conversations, the global indexes, the audit trail and the schema version; not sessions, rate
 * limits nor live state.
 *
 * It may run while the nodes serve. Each scope is read in one MULTI (DUMP and PTTL of each of its
 * keys), so a room, a conversation and the global keys are each consistent in themselves (one slot
 * each, so also on a Redis Cluster); what one scope derives from another (a user's room sets, the
 * room index) may be a moment apart, and the repair a restore runs rebuilds it. Memory: the key
 * names under the prefix (SCAN first, to group them by scope), and the values of at most WIDTH
 * scopes at a time, never the data set.
 */
import { resolve } from "node:path";
import { Cluster } from "ioredis";
import type { RedisSettings } from "../config.js";
import type { Logger } from "../logger.js";
import { describeTarget, type RedisClient } from "../redis.js";
import { RedisAuditStore } from "../stores/redis/audit.js";
import { GLOBAL_TAG, RedisKeys } from "../stores/redis/keys.js";
import { scanKeys } from "../stores/redis/repair.js";
import { checkLayout, LegacyLayoutError } from "../stores/redis/startup.js";
import { parseSchemaVersion } from "../stores/schema.js";
import { recordAudit } from "./audit.js";
import { connectAdminTool } from "./tool-client.js";
import { AdminError } from "./admin-error.js";
import { BACKUP_FORMAT, BACKUP_VERSION, writeBackup, type BackupHeader, type BackupRecord } from "./backup-format.js";
import { classifyKey, companionKeys, DATA_FAMILIES, isTagged, OMITTED, type OmittedFamily } from "./backup-keys.js";
import { compareVersions, emptyTally, formatTally, inOrder, prefixPattern, serverVersions } from "./backup-store.js";

/** Scopes read at once (one MULTI each). */
const WIDTH = 32;

export interface BackupRun {
  target: RedisSettings;
  file: string;
  logger: Logger;
  actor: string;
}

interface DumpedScope {
  records: BackupRecord[];
  /** Keys SCAN found that were gone by the time the scope was read. */
  vanished: number;
  /** The schema version's value, when asked for (the global scope). */
  schema?: string | null;
}

/** The scope's keys (those SCAN found, and the ones it may hold) in one MULTI: DUMP and PTTL of each. */
async function dumpScope(redis: RedisClient, keys: RedisKeys, scope: string, found: Set<string>): Promise<DumpedScope> {
  const { prefix } = keys;
  const names = isTagged(scope) ? [...new Set([...found, ...companionKeys(keys, scope).filter((key) => classifyKey(prefix, key).data)])] : [...found];
  const withSchema = scope === GLOBAL_TAG;
  const transaction = redis.multi();
  for (const name of names) transaction.dumpBuffer(name).pttl(name);
  if (withSchema) transaction.get(keys.schemaVersion);
  const replies = await transaction.exec();
  if (!replies) throw new Error(`the read of ${scope} was aborted`);
  const dumped: DumpedScope = { records: [], vanished: 0 };
  names.forEach((name, i) => {
    const [dumpError, dump] = replies[2 * i]!;
    const [ttlError, ttl] = replies[2 * i + 1]!;
    if (dumpError || ttlError) throw dumpError ?? ttlError;
    if (dump === null || ttl === -2) {
      if (found.has(name)) dumped.vanished++;
      return;
    }
    const kind = classifyKey(prefix, name);
    if (!kind.data) return;
    dumped.records.push({ k: name.slice(prefix.length + 1), f: kind.family, ttl: Number(ttl) > 0 ? Number(ttl) : 0, d: (dump as Buffer).toString("base64") });
  });
  // A schema key that is not a string (WRONGTYPE) is backed up all the same, and reported.
  if (withSchema) {
    const [error, value] = replies[2 * names.length]!;
    dumped.schema = error ? `(${error.message})` : (value as string | null);
  }
  return dumped;
}

export async function backupStore(run: BackupRun): Promise<string> {
  const { target: settings, logger } = run;
  const file = resolve(run.file);
  const keys = new RedisKeys(settings.prefix);
  const redis: RedisClient = await connectAdminTool(settings);
  try {
    try {
      await checkLayout(redis, keys);
    } catch (error) {
      if (error instanceof LegacyLayoutError) throw new AdminError(`nothing backed up: ${error.message}`);
      throw error;
    }
    const versions = await serverVersions(redis);
    const started = Date.now();

    // Every key of the prefix, grouped by scope (names only).
    const scopes = new Map<string, Set<string>>();
    const left = emptyTally();
    for await (const key of scanKeys(redis, prefixPattern(settings.prefix))) {
      const found = classifyKey(settings.prefix, key);
      if (!found.data) {
        left[found.family]++;
        continue;
      }
      const scope = scopes.get(found.scope);
      if (scope) scope.add(key);
      else scopes.set(found.scope, new Set([key]));
    }
    const where = `${describeTarget(settings)}, prefix ${settings.prefix}`;
    if (scopes.size === 0) throw new AdminError(`${where}: no Sala data under this prefix (is REDIS_PREFIX the nodes' one?); no file written`);

    // The global keys first: the header names the schema version read in the same MULTI.
    const global = await dumpScope(redis, keys, GLOBAL_TAG, scopes.get(GLOBAL_TAG) ?? new Set());
    scopes.delete(GLOBAL_TAG);
    const raw = global.schema ?? null;
    let schema: number | null = null;
    try {
      schema = parseSchemaVersion(raw);
    } catch {
      // Unreadable: backed up as it is, and reported below; the header says unversioned.
    }
    const header: BackupHeader = {
      format: BACKUP_FORMAT,
      version: BACKUP_VERSION,
      prefix: settings.prefix,
      createdAt: new Date().toISOString(),
      schema,
      source: {
        kind: redis instanceof Cluster ? "redis-cluster" : "redis",
        primaries: versions.length,
        redisVersion: versions.reduce((newest, version) => (compareVersions(version, newest) > 0 ? version : newest)),
      },
    };
    let vanished = global.vanished;
    const client = redis;
    async function* records(): AsyncGenerator<BackupRecord> {
      yield* global.records;
      for await (const dumped of inOrder(scopes, WIDTH, ([scope, found]) => dumpScope(client, keys, scope, found))) {
        vanished += dumped.vanished;
        yield* dumped.records;
      }
    }
    const written = await writeBackup(file, header, records());
    const ms = Date.now() - started;
    const counts = formatTally(written.families, DATA_FAMILIES);
    logger.info({ event: "backup_written", file, ms, keys: written.keys, bytes: written.bytes, vanished, sha256: written.sha256, ...written.families }, "backup: file written");

    const omitted = (Object.keys(OMITTED) as OmittedFamily[]).filter((family) => left[family] > 0).map((family) => `${OMITTED[family]} (${left[family]})`);
    const lines = [
      `backup of ${where}` +
        (header.source.kind === "redis-cluster" ? ` (${header.source.primaries} primaries)` : "") +
        `: ${schema === null ? "unversioned data (no schema version)" : `schema version ${schema}`}`,
      ...(raw !== null && schema === null ? [`warning: ${keys.schemaVersion} holds ${JSON.stringify(raw).slice(0, 80)}, not a schema version; backed up as it is`] : []),
      `wrote ${file}: ${written.keys} key(s) in ${ms} ms: ${counts}` + (vanished > 0 ? ` (${vanished} deleted while it ran)` : ""),
      `left out: ${omitted.length > 0 ? omitted.join(", ") : "nothing"}; sessions are never backed up: everyone logs in again after a restore`,
      `content sha256 ${written.sha256} (checked by restore)`,
      `file sha256 ${written.fileSha256}, ${written.bytes} bytes, mode 0600: it holds password hashes and room keys, keep it as secret as Redis itself`,
    ];

    // Audited on the store it was taken from. A read-only store (a replica) still gets its backup.
    const entry = { ts: Date.now(), actor: run.actor, action: "backup", target: file, outcome: `${written.keys} key(s): ${counts}; sha256 ${written.sha256}` };
    try {
      await recordAudit(new RedisAuditStore(redis, keys), logger, entry);
    } catch (error) {
      logger.warn({ event: "admin_audit_failed", err: (error as Error).message }, "backup: the audit entry was not written");
      lines.push(`warning: the audit entry was not written to the store: ${(error as Error).message}`);
    }
    return lines.join("\n");
  } catch (error) {
    if (error instanceof AdminError) throw error;
    throw new AdminError(`backup failed: ${(error as Error).message}`);
  } finally {
    redis.disconnect();
  }
}
