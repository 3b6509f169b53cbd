/**
 * Which keys a backup (`npm run admin -- backup`, backup.ts) carries, and how it groups them, kept
 * free of I/O. The rule is "persistent data, not live state": every key under the prefix is data
 * unless it only describes running nodes or logged-in browsers. So a key that a later version adds
 * to a scope (a `{global}` schema version, a user directory, a room's new hash) travels without a
 * change here; only a new kind of *live* key must be named (in migrate-keys.ts, whose families this
 * reuses).
 *
 * Left out: presence and the node list (who is online where: nobody is, after a restore), the
 * socket tallies, metrics samples and the repair lease (`live`), sessions and rate limits (everyone
 * logs in again after a restore, with fresh limits).
 *
 * Consistency: a key is read together with the other keys of its scope, in one MULTI. A scope is the
 * key's hash tag (`{room:<id>}`, `{dm:<a>:<b>}`, `{global}`): one slot, so one MULTI even on a Redis
 * Cluster. Keys without a hash tag (users' `user:<name>…`, unknown ones) are each a scope of their own.
 */
import { GLOBAL_TAG, type RedisKeys } from "../stores/redis/keys.js";
import { planKey, type KeyFamily } from "./migrate-keys.js";

/** The families a backup holds. */
export type DataFamily = "global" | "room" | "conversation" | "user" | "other";
export const DATA_FAMILIES: readonly DataFamily[] = ["global", "room", "conversation", "user", "other"];

/** The families it leaves out, and why (for the operator's report). */
export type OmittedFamily = "presence" | "live" | "session" | "rate-limit";
export const OMITTED: Record<OmittedFamily, string> = {
  presence: "presence and node list",
  live: "socket tallies, metrics samples, repair lease",
  session: "sessions",
  "rate-limit": "rate limits",
};

export type KeyClass = { data: true; family: DataFamily; scope: string } | { data: false; family: OmittedFamily };

const isData = (family: KeyFamily): family is DataFamily => (DATA_FAMILIES as readonly string[]).includes(family);

/**
 * What `key` (a key that starts with `<prefix>:`) is to a backup. A key of the layout before the
 * `{global}` hash tag (migrate-keys.ts renames it) is carried under its own name as `other`: the
 * backup refuses a store in that layout (checkLayout), so only a leftover can be one.
 */
export function classifyKey(prefix: string, key: string): KeyClass {
  const plan = planKey(prefix, key);
  if (!isData(plan.family)) return { data: false, family: plan.family as OmittedFamily };
  return { data: true, family: plan.renamed ? "other" : plan.family, scope: scopeOf(prefix, key) };
}

/** The hash tag that follows `<prefix>:` (`{room:abc}`), or the key itself when there is none. */
export function scopeOf(prefix: string, key: string): string {
  const rest = key.slice(prefix.length + 1);
  const close = rest.indexOf("}");
  return rest.startsWith("{") && close > 1 ? rest.slice(0, close + 1) : key;
}

export function isTagged(scope: string): boolean {
  return scope.startsWith("{");
}

/**
 * The keys a scope may hold besides those SCAN found: read in the same MULTI, so that a key made
 * between the SCAN and the MULTI (a room's first bar, a schema version) is not missed while its
 * siblings are read (a key that does not exist reads as nothing).
 */
export function companionKeys(keys: RedisKeys, scope: string): string[] {
  if (scope === GLOBAL_TAG) return [keys.schemaVersion];
  const room = /^\{room:(.+)\}$/.exec(scope);
  if (room) {
    const id = room[1]!;
    return [keys.roomMeta(id), keys.roomMembers(id), keys.roomKeys(id), keys.roomHistory(id), keys.roomEdits(id), keys.roomBarred(id), keys.roomMessageIds(id), keys.roomMessageIdExpiry(id)];
  }
  const conversation = /^\{(dm:.+)\}$/.exec(scope);
  if (conversation) {
    const id = conversation[1]!;
    return [keys.conversationMeta(id), keys.conversationKeys(id), keys.conversationHistory(id), keys.conversationMessageIds(id), keys.conversationMessageIdExpiry(id)];
  }
  return [];
}
