/**
 * Issue 20, item 5: Sala's data carries a schema version. Against the run's real redis-server (and
 * its Redis Cluster for the start-up check): a node marks a fresh store and starts; it refuses data
 * without a version (written before versions), naming `migrate`, and data of a newer version, as
 * an in-process node and as the real server process (exit status, message); the real CLI
 * (`npm run admin -- migrate`, a child process) brings the data up, resumes a run cut short,
 * refuses a newer version or the old layout, and, while a node heartbeats, runs only migrations
 * that are safe online (an offline one is refused unless --force, through migrateSchema with an
 * injected list). Needs the built server and CLI (`npx tsc -b services/chat`).
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { Cluster, Redis } from "ioredis";
import { pino } from "pino";
import { afterAll, describe, expect, inject, it } from "vitest";
import { AdminError } from "../src/admin/admin-error.js";
import { migrateSchema, type RedisMigration } from "../src/admin/schema-migrate.js";
import { RedisKeys } from "../src/stores/redis/keys.js";
import { scanKeys } from "../src/stores/redis/repair.js";
import { currentSchemaVersion } from "../src/stores/redis/schema.js";
import { SCHEMA_VERSION } from "../src/stores/schema.js";
import { runAdmin } from "./support/admin-cli.js";
import { PASSWORD, post, registerAndLogin, newUsername, startNode, testNodeEnv, type TestNode } from "./support/cluster.js";
import { testRedis, testRedisCluster, uniquePrefix } from "./support/redis-client.js";

const SERVER = fileURLToPath(new URL("../dist/server.js", import.meta.url));
const redis = testRedis();
const redisUrl = inject("redisUrl");
const silent = pino({ level: "silent" });
const nodes: TestNode[] = [];

afterAll(async () => {
  await Promise.allSettled(nodes.map(({ node }) => node.close()));
});

async function node(prefix: string, label: string): Promise<TestNode> {
  const started = await startNode(`${prefix}-${label}`, redisUrl, prefix);
  nodes.push(started);
  return started;
}

async function stop(started: TestNode): Promise<void> {
  await started.node.close();
  nodes.splice(nodes.indexOf(started), 1);
}

/** The CLI against this prefix on the run's redis-server. */
const admin = (prefix: string, ...args: string[]) => runAdmin(["migrate", ...args], { REDIS_URL: redisUrl, REDIS_PREFIX: prefix });

/**
 * A data set as a Sala from before schema versions leaves it: an account, made through a
 * real node that is then stopped, and no version recorded.
 */
async function dataWithoutVersion(label: string): Promise<{ prefix: string; keys: RedisKeys; user: string }> {
  const prefix = uniquePrefix(label);
  const keys = new RedisKeys(prefix);
  const maker = await node(prefix, "maker");
  const user = newUsername("old");
  await registerAndLogin(maker, user);
  await stop(maker);
  await redis.del(keys.schemaVersion);
  return { prefix, keys, user };
}

/** Every key of the prefix with its DUMP (hex): equal snapshots mean nothing changed. */
async function snapshot(client: Redis, prefix: string): Promise<Record<string, string>> {
  const found: Record<string, string> = {};
  for await (const key of scanKeys(client, `${prefix}:*`)) found[key] = ((await client.dumpBuffer(key)) ?? Buffer.alloc(0)).toString("hex");
  return found;
}

/** The real server process on this prefix: how it ended, if it did within `ms`, and what it wrote. */
function serverProcess(prefix: string, ms = 15_000): Promise<{ code: number | null; stdout: string; stderr: string; started: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SERVER], { env: { PATH: process.env.PATH, ...testNodeEnv(`${prefix}-proc`, redisUrl, prefix, { LOG_LEVEL: "info" }) } });
    let stdout = "";
    let stderr = "";
    let started = false;
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk;
      if (!started && stdout.includes('"event":"node_started"')) {
        started = true;
        child.kill("SIGTERM");
      }
    });
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk));
    const timer = setTimeout(() => child.kill("SIGKILL"), ms);
    child.once("error", reject);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, started });
    });
  });
}

describe("a node and the schema version", () => {
  it("marks a fresh store with its version and starts", async () => {
    const prefix = uniquePrefix("schema-fresh");
    const keys = new RedisKeys(prefix);
    expect(await redis.exists(keys.schemaVersion)).toBe(0);
    const n1 = await node(prefix, "n1");
    expect(await redis.get(keys.schemaVersion)).toBe(String(SCHEMA_VERSION));
    // It serves, and a node started later on the same store (now with data) starts too.
    const cookie = await registerAndLogin(n1, newUsername("fresh"));
    expect(cookie).toBeTruthy();
    await node(prefix, "n2");
    expect(await redis.get(keys.schemaVersion)).toBe(String(SCHEMA_VERSION));
  });

  it("several nodes starting at once on a fresh store all start, and the version is written once", async () => {
    const prefix = uniquePrefix("schema-race");
    const keys = new RedisKeys(prefix);
    const started = await Promise.all([1, 2, 3].map((i) => startNode(`${prefix}-r${i}`, redisUrl, prefix)));
    nodes.push(...started);
    expect(await redis.get(keys.schemaVersion)).toBe(String(SCHEMA_VERSION));
    for (const { url } of started) expect((await fetch(`${url}/readyz`)).status).toBe(200);
  });

  it("refuses data without a version, naming migrate; the CLI brings it to the current version and the node starts", { timeout: 90_000 }, async () => {
    const { prefix, keys, user } = await dataWithoutVersion("schema-old");
    // Version 1's own index: gone, as on data from before it.
    await redis.del(`${prefix}:{global}:users:byname`);
    const before = await snapshot(redis, prefix);

    await expect(startNode(`${prefix}-refused`, redisUrl, prefix)).rejects.toThrow(
      /the data is from before schema versions \(version 0\); this node needs schema version 1: run `npm run admin -- migrate`/,
    );
    // The server process: a clear message on stderr (no stack), a structured line, exit status 1.
    const proc = await serverProcess(prefix);
    expect(proc.started).toBe(false);
    expect(proc.code).toBe(1);
    expect(proc.stderr).toMatch(/^sala: refusing to start: Redis \(prefix [^)]+\): the data is from before schema versions \(version 0\); this node needs schema version 1/m);
    expect(proc.stderr).toContain("npm run admin -- migrate");
    expect(proc.stderr).not.toMatch(/\n\s+at /);
    expect(proc.stdout).toContain('"event":"store_refused"');
    expect(await snapshot(redis, prefix)).toEqual(before);

    const dry = await admin(prefix, "--dry-run");
    expect(dry, dry.stderr).toMatchObject({ code: 0 });
    expect(dry.stdout).toMatch(/schema version 0 \(none recorded.*\), this Sala's is 1: 1 migration\(s\) to run/);
    expect(dry.stdout).toContain("  to 1: build the user directory");
    expect(dry.stdout).toContain("dry run: nothing changed");
    expect(await snapshot(redis, prefix)).toEqual(before);

    const migrated = await admin(prefix);
    expect(migrated, migrated.stderr).toMatchObject({ code: 0 });
    expect(migrated.stdout).toMatch(/migrated to 1 in \d+ ms: repair: /);
    expect(migrated.stdout).toContain("done: the data is at schema version 1");
    expect(await redis.get(keys.schemaVersion)).toBe("1");
    // What version 1 adds: the account is in the user directory again.
    expect(await redis.zscore(`${prefix}:{global}:users:byname`, user)).toBe("0");
    // Audited in the store and in a pino line.
    const [entry] = (await redis.lrange(keys.audit, 0, 0)).map((line) => JSON.parse(line));
    expect(entry).toMatchObject({ action: "migrate", target: "schema 0->1", outcome: "done" });
    expect(migrated.stderr).toContain('"event":"admin_audit"');

    const again = await admin(prefix);
    expect(again, again.stderr).toMatchObject({ code: 0 });
    expect(again.stdout).toContain("already at schema version 1, nothing to migrate");

    const n1 = await node(prefix, "after");
    const login = await post(`${n1.url}/login`, { username: user, password: PASSWORD });
    expect(login.status).toBe(200);
  });

  it("refuses data of a newer version: the node says upgrade, migrate changes nothing", { timeout: 60_000 }, async () => {
    const { prefix, keys } = await dataWithoutVersion("schema-newer");
    await redis.set(keys.schemaVersion, String(SCHEMA_VERSION + 1));
    const before = await snapshot(redis, prefix);

    await expect(startNode(`${prefix}-refused`, redisUrl, prefix)).rejects.toThrow(
      new RegExp(`written by a newer Sala \\(schema version ${SCHEMA_VERSION + 1}\\); this node knows schema versions up to ${SCHEMA_VERSION}: upgrade this node`),
    );
    const proc = await serverProcess(prefix);
    expect(proc).toMatchObject({ started: false, code: 1 });
    expect(proc.stderr).toContain("written by a newer Sala");

    const refused = await admin(prefix);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/newer Sala \(schema version 2\); this sala-admin knows schema versions up to 1: nothing changed/);
    expect(await snapshot(redis, prefix)).toEqual(before);
  });

  it("refuses an unreadable version, changing nothing", async () => {
    const { prefix, keys } = await dataWithoutVersion("schema-garbage");
    await redis.set(keys.schemaVersion, "one");
    const before = await snapshot(redis, prefix);
    await expect(startNode(`${prefix}-refused`, redisUrl, prefix)).rejects.toThrow(/holds an unreadable schema version \("one"\)/);
    const refused = await admin(prefix);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('unreadable schema version ("one")');
    expect(await snapshot(redis, prefix)).toEqual(before);
  });
});

describe("npm run admin -- migrate", () => {
  it("runs an online-safe migration while a node heartbeats", { timeout: 60_000 }, async () => {
    // A running node on data without a version: what a rolling upgrade finds (older nodes serving).
    const prefix = uniquePrefix("schema-live");
    const keys = new RedisKeys(prefix);
    const running = await node(prefix, "live");
    const user = newUsername("live");
    await registerAndLogin(running, user);
    await redis.del(keys.schemaVersion, `${prefix}:{global}:users:byname`);
    const migrated = await admin(prefix);
    expect(migrated, migrated.stderr).toMatchObject({ code: 0 });
    expect(migrated.stdout).toContain(`node(s) ${running.id} heartbeat(ed) within 30 s: every pending migration is safe while they run`);
    expect(await redis.get(keys.schemaVersion)).toBe("1");
    expect(await redis.zscore(`${prefix}:{global}:users:byname`, user)).toBe("0");
    // The node served throughout.
    expect((await post(`${running.url}/login`, { username: user, password: PASSWORD })).status).toBe(200);
  });

  it("refuses a migration that needs the nodes stopped while one heartbeats, unless --force", { timeout: 60_000 }, async () => {
    const prefix = uniquePrefix("schema-offline");
    const keys = new RedisKeys(prefix);
    const running = await node(prefix, "live");
    await registerAndLogin(running, newUsername("offline"));
    await redis.del(keys.schemaVersion);
    let ran = 0;
    const offline: RedisMigration[] = [{ to: 1, summary: "rewrite every room", online: false, run: async () => `ran ${++ran}` }];
    const base = { redis, keys, logger: silent, actor: "tester", migrations: offline, latest: 1 };

    const refused = await migrateSchema({ ...base, options: { dryRun: false, force: false } }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(AdminError);
    expect((refused as Error).message).toContain(`node(s) ${running.id} heartbeat(ed) within 30 s, and the migration(s) to version 1 need every node stopped: stop them first`);
    expect(ran).toBe(0);
    expect(await redis.exists(keys.schemaVersion)).toBe(0);

    const forced = await migrateSchema({ ...base, options: { dryRun: false, force: true } });
    expect(forced).toContain("migrating anyway (--force)");
    expect(forced).toContain("migrated to 1 in");
    expect(ran).toBe(1);
    expect(await redis.get(keys.schemaVersion)).toBe("1");

    // Once the node stopped (it leaves the node list), the same list runs without --force.
    await stop(running);
    await redis.del(keys.schemaVersion);
    expect(await migrateSchema({ ...base, options: { dryRun: false, force: false } })).toContain("done: the data is at schema version 1");
    expect(ran).toBe(2);
  });

  it("resumes after a failed migration from the last version reached", { timeout: 60_000 }, async () => {
    const { keys } = await dataWithoutVersion("schema-resume");
    const ran: number[] = [];
    let broken = true;
    const list: RedisMigration[] = [1, 2, 3].map((to) => ({
      to,
      summary: `step ${to}`,
      online: true,
      async run(client, k) {
        ran.push(to);
        if (to === 2 && broken) throw new Error("out of memory");
        await client.set(`${k.prefix}:{global}:step${to}`, "done");
        return `step ${to} done`;
      },
    }));
    const migration = { redis, keys, logger: silent, actor: "tester", migrations: list, latest: 3, options: { dryRun: false, force: false } };

    const failed = await migrateSchema(migration).catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(AdminError);
    expect((failed as Error).message).toMatch(/the migration to schema version 2 failed: out of memory\nthe data is at schema version 1: fix the cause and run migrate again/);
    expect(await redis.get(keys.schemaVersion)).toBe("1");
    const [entry] = (await redis.lrange(keys.audit, 0, 0)).map((line) => JSON.parse(line));
    expect(entry).toMatchObject({ action: "migrate", target: "schema 0->3", outcome: "failed at 2: out of memory" });

    broken = false;
    ran.length = 0;
    const resumed = await migrateSchema(migration);
    expect(ran).toEqual([2, 3]);
    expect(resumed).toContain("schema version 1, this Sala's is 3: 2 migration(s) to run");
    expect(await redis.get(keys.schemaVersion)).toBe("3");
  });

  it("says what to do on an empty prefix, the old layout, embedded mode and bad arguments", { timeout: 60_000 }, async () => {
    const empty = uniquePrefix("schema-empty");
    const nothing = await admin(empty);
    expect(nothing, nothing.stderr).toMatchObject({ code: 0 });
    expect(nothing.stdout).toContain("no Sala data, nothing to migrate");
    expect(await snapshot(redis, empty)).toEqual({});

    const legacy = uniquePrefix("schema-legacy");
    await redis.zadd(`${legacy}:rooms`, 1, "old-room");
    const old = await admin(legacy);
    expect(old.code).toBe(1);
    expect(old.stderr).toMatch(/layout before Redis Cluster support: run `npm run admin -- migrate-to-cluster --from <its redis:\/\/ URL>` first/);
    expect(await snapshot(redis, legacy)).toEqual({ [`${legacy}:rooms`]: expect.any(String) });

    const embedded = await runAdmin(["migrate"], { REDIS_PREFIX: empty, PORT: "1" });
    expect(embedded.code).not.toBe(0);
    expect(embedded.stderr).toContain("nothing to migrate: embedded stores live in the node's memory");

    const bad = await admin(empty, "--to", "3");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("unknown argument: --to");

    const unreachable = await runAdmin(["migrate"], { REDIS_URL: "redis://127.0.0.1:1", REDIS_PREFIX: empty });
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(/cannot reach Redis at redis:\/\/127\.0\.0\.1:1/);
  });
});

describe("the start-up check on a Redis Cluster", () => {
  const cluster: Cluster = testRedisCluster();

  it("marks a fresh store, and counts data without a version as version 0 (one slot: no CROSSSLOT)", async () => {
    const keys = new RedisKeys(uniquePrefix("schema-cluster"));
    try {
      expect(await currentSchemaVersion(cluster, keys)).toEqual({ version: SCHEMA_VERSION, marked: true });
      expect(await currentSchemaVersion(cluster, keys)).toEqual({ version: SCHEMA_VERSION, marked: false });
      await cluster.del(keys.schemaVersion);
      await cluster.zadd(keys.roomIndex, 1, "a-room");
      expect(await currentSchemaVersion(cluster, keys)).toEqual({ version: 0, marked: false });
    } finally {
      await cluster.del(keys.schemaVersion, keys.roomIndex);
    }
  });
});
