/**
 * The rename rule of migrate-to-cluster (issue 18, item 6): every old global name maps to the key
 * the current code uses (RedisKeys is the reference, so a renamed key in keys.ts fails here), the
 * other families keep their names, metrics and socket tallies are not copied, and a second run
 * changes nothing.
 */
import { describe, expect, it } from "vitest";
import { parseMigrateArgs, planKey } from "../src/admin/migrate-keys.js";
import { RedisKeys } from "../src/stores/redis/keys.js";

const P = "sala";
const keys = new RedisKeys(P);

describe("planKey", () => {
  it("renames each old global key that holds data to the name RedisKeys uses now", () => {
    const moved: Array<[string, string]> = [
      ["roomnames", keys.roomNames],
      ["roomnames:skeletons", keys.roomSkeletons],
      ["usernames:skeletons", keys.userSkeletons],
      ["audit", keys.audit],
      ["rooms", keys.roomIndex],
      ["rooms:empty", keys.emptyRooms],
      ["rooms:byname", keys.roomsByName],
      ["rooms:active", keys.roomsByActivity],
      ["lobby:rev", keys.lobbyRev],
    ];
    for (const [old, now] of moved) expect(planKey(P, `${P}:${old}`), old).toEqual({ family: "global", target: now, renamed: true });
    // Every name a node refuses to start on is one the migration moves.
    for (const legacy of keys.legacyGlobalKeys) expect(planKey(P, legacy).renamed, legacy).toBe(true);
  });

  it("renames presence and the node list too, so that nodes that died are swept on the cluster", () => {
    const moved: Array<[string, string]> = [
      ["presence", keys.presence],
      ["presence:online-rev", keys.presenceOnlineRev],
      ["presence:names", keys.presenceNames],
      ["presence:byname", keys.presenceByName],
      ["presence:pending-offline", keys.pendingOffline],
      ["nodes", keys.nodes],
      ["node:n-1:sockets", keys.nodeSockets("n-1")],
    ];
    for (const [old, now] of moved) expect(planKey(P, `${P}:${old}`), old).toEqual({ family: "presence", target: now, renamed: true });
  });

  it("skips what only the running nodes use: metrics samples, the repair lease, socket tallies", () => {
    const live = [
      `${P}:metrics:nodes`,
      `${P}:metrics:node-1`,
      keys.nodeSamples("n-1"),
      keys.sampledNodes,
      keys.repairLease,
      keys.socketCountNodes,
      keys.nodeSocketCounts("n-1"),
    ];
    for (const key of live) expect(planKey(P, key), key).toEqual({ family: "live", target: null, renamed: false });
  });

  it("keeps the names of rooms, conversations, users, sessions and rate limits", () => {
    const same: Array<[string, string]> = [
      [keys.roomMeta("r1"), "room"],
      [keys.roomHistory("r1"), "room"],
      [keys.roomMessageIdExpiry("r1"), "room"],
      [keys.conversationHistory("dm:ana:bia"), "conversation"],
      [keys.user("ana"), "user"],
      [keys.userRooms("ana"), "user"],
      [keys.userConversations("ana"), "user"],
      [keys.userSessions("ana"), "session"],
      [`${keys.sessionPrefix}abc`, "session"],
      [keys.rateLimit("login-ip:127.0.0.1"), "rate-limit"],
      [`${P}:something-new`, "other"],
    ];
    for (const [key, family] of same) expect(planKey(P, key), key).toEqual({ family, target: key, renamed: false });
  });

  it("leaves keys that have their new name as they are (a second run renames nothing)", () => {
    for (const key of [keys.roomNames, keys.roomIndex, keys.emptyRooms, keys.audit, keys.lobbyRev]) {
      expect(planKey(P, key), key).toEqual({ family: "global", target: key, renamed: false });
    }
  });

  it("matches the prefix exactly: `sala:rooms` under prefix `sala:rooms` is not the index", () => {
    expect(planKey("sala:x", "sala:x:rooms")).toMatchObject({ target: "sala:x:{global}:rooms", renamed: true });
    expect(planKey("sala", "salad:rooms")).toEqual({ family: "other", target: "salad:rooms", renamed: false });
  });
});

describe("parseMigrateArgs", () => {
  it("takes --from URL (or --from=URL), --dry-run and --force", () => {
    expect(parseMigrateArgs(["--from", "redis://h:1", "--dry-run"])).toEqual({ from: "redis://h:1", dryRun: true, force: false });
    expect(parseMigrateArgs(["--force", "--from=rediss://u:p@h:2/0"])).toEqual({ from: "rediss://u:p@h:2/0", dryRun: false, force: true });
  });

  it("refuses a missing or non-redis URL and unknown arguments", () => {
    expect(() => parseMigrateArgs([])).toThrow("--from needs");
    expect(() => parseMigrateArgs(["--from"])).toThrow("--from needs");
    expect(() => parseMigrateArgs(["--from", "http://h:1"])).toThrow("--from needs");
    expect(() => parseMigrateArgs(["--from", "redis://h:1", "--yes"])).toThrow("unknown argument: --yes");
  });
});
