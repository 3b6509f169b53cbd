/**
 * Where a Redis store keeps its schema version (stores/schema.ts): the string `{global}:schema`.
 * Every key read or written here is of the `{global}` scope, so each call is one command on one
 * shard of a Redis Cluster; nothing SCANs.
 */
import type { RedisClient } from "../../redis.js";
import { parseSchemaVersion, SCHEMA_VERSION, SchemaVersionError } from "../schema.js";
import type { RedisKeys } from "./keys.js";

// KEYS: the version. ARGV: the version reached. Never lowers it (two runs at once, or data a newer
// Sala marked meanwhile). → the version stored after.
const RAISE = `
local stored = tonumber(redis.call('GET', KEYS[1]) or '0')
if stored and stored >= tonumber(ARGV[1]) then return stored end
redis.call('SET', KEYS[1], ARGV[1])
return tonumber(ARGV[1])`;

/** The recorded version (null: none); throws SchemaVersionError naming the key when it is unreadable. */
export async function readSchemaVersion(redis: RedisClient, keys: RedisKeys): Promise<number | null> {
  const raw = await redis.get(keys.schemaVersion);
  try {
    return parseSchemaVersion(raw);
  } catch (error) {
    throw new SchemaVersionError(
      `${keys.schemaVersion} holds ${(error as Error).message}, not a version: nothing wrote that but an operator; ` +
        "set it back to the version the data is at, or restore a backup (docs/OPERATIONS.md)",
    );
  }
}

/**
 * Whether the prefix holds Sala data, from global keys that any data set has: an account claims its
 * look-alike key at registration, a room its name and index entry. One EXISTS (they share a slot).
 */
export async function holdsSalaData(redis: RedisClient, keys: RedisKeys): Promise<boolean> {
  return (await redis.exists(keys.userSkeletons, keys.roomNames, keys.roomIndex, keys.roomSkeletons, keys.emptyRooms)) > 0;
}

/**
 * The data's version: the recorded one; 0 for data without one (written before versions); and
 * on a store without Sala data, SCHEMA_VERSION, recorded now unless another node did first (SET NX:
 * several nodes start at once). `marked` says whether this call recorded it.
 */
export async function currentSchemaVersion(redis: RedisClient, keys: RedisKeys): Promise<{ version: number; marked: boolean }> {
  const stored = await readSchemaVersion(redis, keys);
  if (stored !== null) return { version: stored, marked: false };
  if (await holdsSalaData(redis, keys)) return { version: 0, marked: false };
  if ((await redis.set(keys.schemaVersion, String(SCHEMA_VERSION), "NX")) === "OK") return { version: SCHEMA_VERSION, marked: true };
  return { version: (await readSchemaVersion(redis, keys)) ?? 0, marked: false };
}

/** Records that the data reached `version` (never lowering what is stored); returns what is stored after. */
export async function raiseSchemaVersion(redis: RedisClient, keys: RedisKeys, version: number): Promise<number> {
  return Number(await redis.eval(RAISE, 1, keys.schemaVersion, version));
}
