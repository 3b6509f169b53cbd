/**
 * The rename rule of `npm run admin -- migrate-to-cluster` (migrate.ts), kept free of I/O so a unit
 * test can hold every key family to it. Up to session 9 the small global keys had no hash tag
 * (`<prefix>:roomnames`); now they share `{global}` (`<prefix>:{global}:roomnames`, see
 * stores/redis/keys.ts), so that the scripts that keep them consistent run on one shard. Every
 * other family already had its final name: rooms `{room:<id>}`, conversations `{dm:…}`, users
 * `user:<name>`, sessions `sess:`, rate limits `rl:`.
 *
 * Presence and the node list are moved too (renamed like the other global keys): after a clean
 * stop they are empty, and after a crash they name nodes that no longer heartbeat, which the nodes
 * that start on the cluster sweep as dead: their users go offline and leave their rooms, as they
 * would have on the single Redis. Left out (`live`): metrics samples (charts of the old nodes),
 * the repair lease and the socket tallies of `{sockets}`, which expire with the nodes that wrote
 * them; the nodes write their own within a heartbeat.
 */
import { GLOBAL_TAG } from "../stores/redis/keys.js";

/** What a key is, for the counts the migration prints and verifies. */
export type KeyFamily = "global" | "presence" | "room" | "conversation" | "user" | "session" | "rate-limit" | "live" | "other";

/** Global keys that hold data, by their suffix after `<prefix>:` (old) or `<prefix>:{global}:` (new). */
const KEPT_GLOBAL = new Set(["roomnames", "roomnames:skeletons", "usernames:skeletons", "users:byname", "audit", "rooms", "rooms:empty", "rooms:byname", "rooms:active", "lobby:rev", "schema"]);
/** Who is online on which node: moved, so that a crashed node's users are swept as before. */
const PRESENCE = new Set(["presence", "presence:online-rev", "presence:names", "presence:byname", "presence:pending-offline", "nodes"]);
const NODE_SOCKETS = /^node:.+:sockets$/;
/** Only describe the running nodes: not moved. */
const LIVE_GLOBAL = new Set(["metrics:nodes", "repair:lease"]);
const METRICS = /^metrics:.+$/;

export interface KeyPlan {
  family: KeyFamily;
  /** The key's name on the target, or null when it is not copied (a `live` key). */
  target: string | null;
  /** True when `target` differs from the source name (an old global name). */
  renamed: boolean;
}

function globalSuffixFamily(suffix: string): "global" | "presence" | "live" | null {
  if (KEPT_GLOBAL.has(suffix)) return "global";
  if (PRESENCE.has(suffix) || NODE_SOCKETS.test(suffix)) return "presence";
  if (LIVE_GLOBAL.has(suffix) || METRICS.test(suffix)) return "live";
  return null;
}

/**
 * Where `key` (a key of the source that starts with `<prefix>:`) goes on the target. Keys that
 * already have their new name (a second run, or a store that is half upgraded) keep it; a key of
 * the prefix that Sala does not know is copied under its own name (`other`) rather than dropped.
 */
export function planKey(prefix: string, key: string): KeyPlan {
  const head = `${prefix}:`;
  if (!key.startsWith(head)) return { family: "other", target: key, renamed: false };
  const rest = key.slice(head.length);
  const same = (family: KeyFamily): KeyPlan => ({ family, target: key, renamed: false });
  if (rest.startsWith(`${GLOBAL_TAG}:`)) {
    const family = globalSuffixFamily(rest.slice(GLOBAL_TAG.length + 1));
    return family === "live" ? { family, target: null, renamed: false } : same(family ?? "global");
  }
  if (rest.startsWith("{room:")) return same("room");
  if (rest.startsWith("{dm:")) return same("conversation");
  if (rest.startsWith("{sockets}:")) return { family: "live", target: null, renamed: false };
  // A user's session index (`user:<name>:sessions`) lists session ids: it goes with the sessions.
  if (rest.startsWith("user:")) return same(rest.endsWith(":sessions") ? "session" : "user");
  if (rest.startsWith("sess:")) return same("session");
  if (rest.startsWith("rl:")) return same("rate-limit");
  const family = globalSuffixFamily(rest);
  if (family === "global" || family === "presence") return { family, target: `${head}${GLOBAL_TAG}:${rest}`, renamed: true };
  if (family === "live") return { family, target: null, renamed: false };
  return same("other");
}

/** A count of keys per family. */
export type FamilyCounts = Record<KeyFamily, number>;

export const FAMILIES: readonly KeyFamily[] = ["global", "presence", "room", "conversation", "user", "session", "rate-limit", "other", "live"];

export function emptyCounts(): FamilyCounts {
  return { global: 0, presence: 0, room: 0, conversation: 0, user: 0, session: 0, "rate-limit": 0, live: 0, other: 0 };
}

/** `room=12 user=30 …`, families with a count only. */
export function formatCounts(counts: FamilyCounts): string {
  const parts = FAMILIES.filter((family) => counts[family] > 0).map((family) => `${family}=${counts[family]}`);
  return parts.length > 0 ? parts.join(" ") : "none";
}

export interface MigrateOptions {
  from: string;
  dryRun: boolean;
  force: boolean;
}

/** Parses `--from URL [--dry-run] [--force]` (also `--from=URL`); throws Error with a usage message. */
export function parseMigrateArgs(args: string[]): MigrateOptions {
  const options: MigrateOptions = { from: "", dryRun: false, force: false };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--dry-run") options.dryRun = true;
    else if (arg === "--force") options.force = true;
    else if (arg === "--from") options.from = args[++i] ?? "";
    else if (arg.startsWith("--from=")) options.from = arg.slice("--from=".length);
    else throw new Error(`unknown argument: ${arg}`);
  }
  if (!/^rediss?:\/\/./.test(options.from)) throw new Error("--from needs the redis:// (or rediss://) URL of the single Redis that holds the data");
  return options;
}

export const MIGRATE_USAGE = "migrate-to-cluster --from URL [--dry-run] [--force]";
