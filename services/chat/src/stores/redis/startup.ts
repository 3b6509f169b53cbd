/**
 * What a node does with Redis's data as it starts: refuses data in the layout before the global
 * keys shared a hash tag (it would see no rooms), then data of another schema version than its own
 * (stores/schema.ts; a fresh store gets its version), and repairs the derived indexes in the
 * background (repair.ts), one node at a time and at most once per REPAIR_LEASE_MS across the
 * cluster, so that leftovers of operations a dead node cut short do not stay for long.
 */
import type { Logger } from "../../logger.js";
import type { RedisClient } from "../../redis.js";
import { SCHEMA_VERSION, SchemaVersionError, startRefusal } from "../schema.js";
import type { RedisKeys } from "./keys.js";
import { repairStores } from "./repair.js";
import { RedisRoomStore } from "./rooms.js";
import { currentSchemaVersion } from "./schema.js";

const REPAIR_LEASE_MS = 10 * 60_000;

export class LegacyLayoutError extends Error {}

/** Throws LegacyLayoutError when the store holds global keys under their old names. */
export async function checkLayout(redis: RedisClient, keys: RedisKeys): Promise<void> {
  // One EXISTS per key: the old names have no common hash tag (a Redis Cluster refuses them in one).
  const found = await Promise.all(keys.legacyGlobalKeys.map(async (key) => ((await redis.exists(key)) > 0 ? key : null)));
  const legacy = found.filter((key): key is string => key !== null);
  if (legacy.length > 0) {
    throw new LegacyLayoutError(
      `Redis holds Sala data in the layout before Redis Cluster support (${legacy.join(", ")}): ` +
        "move it once with `npm run admin -- migrate-to-cluster --from <its redis:// URL>` (see docs/OPERATIONS.md), then start again",
    );
  }
}

/**
 * Throws SchemaVersionError unless the data is at this node's schema version, saying what to run;
 * marks a store without Sala data with it. After checkLayout: data of the older layout has none.
 */
export async function checkSchemaVersion(redis: RedisClient, keys: RedisKeys, logger: Logger): Promise<void> {
  const { version, marked } = await currentSchemaVersion(redis, keys);
  if (marked) logger.info({ event: "schema_version_marked", version }, "fresh store: marked with this node's schema version");
  const refusal = startRefusal(version, SCHEMA_VERSION);
  if (refusal) throw new SchemaVersionError(`Redis (prefix ${keys.prefix}): ${refusal}`);
}

/** The repair over these keys, as the admin CLI and the start-up task run it. */
export function repairer(redis: RedisClient, keys: RedisKeys) {
  const rooms = new RedisRoomStore(redis, keys, null, 600);
  return () => repairStores(redis, keys, rooms);
}

/** Runs the repair unless another node did within the lease; logs the outcome, never throws. */
export async function repairInBackground(redis: RedisClient, keys: RedisKeys, nodeId: string, logger: Logger): Promise<void> {
  try {
    const leased = await redis.set(keys.repairLease, nodeId, "PX", REPAIR_LEASE_MS, "NX");
    if (leased !== "OK") return;
    const started = Date.now();
    const report = await repairer(redis, keys)();
    const { clashes, ...counts } = report;
    logger.info({ event: "store_repaired", ms: Date.now() - started, ...counts, clashes: clashes.length }, "derived indexes checked and rebuilt");
  } catch (error) {
    logger.warn({ event: "store_repair_failed", err: (error as Error).message }, "the start-up repair failed; it runs again at the next start or with npm run admin -- repair");
  }
}
