/**
 * Issue 20, item 5: the rules of the schema version, without a store: which migrations run from a
 * stored version (in order, none twice, none when current, refused when newer), that a failure
 * leaves the versions reached so far recorded and a second run resumes after them, what a node says
 * when it must not start, and the arguments of `npm run admin -- migrate`.
 */
import { describe, expect, it } from "vitest";
import { parseSchemaMigrateArgs, REDIS_MIGRATIONS } from "../src/admin/schema-migrate.js";
import {
  applyMigrations,
  MigrationFailure,
  parseSchemaVersion,
  pendingMigrations,
  SCHEMA_VERSION,
  SchemaVersionError,
  startRefusal,
  type MigrationStep,
} from "../src/stores/schema.js";

const step = (to: number, online = true): MigrationStep => ({ to, summary: `step ${to}`, online });
const three = [step(1), step(2, false), step(3)];

describe("pendingMigrations", () => {
  it("returns the steps after the stored version, in order", () => {
    expect(pendingMigrations(three, 0, 3).map((s) => s.to)).toEqual([1, 2, 3]);
    expect(pendingMigrations(three, 1, 3).map((s) => s.to)).toEqual([2, 3]);
    expect(pendingMigrations(three, 2, 3).map((s) => s.to)).toEqual([3]);
    expect(pendingMigrations(three, 3, 3)).toEqual([]);
  });

  it("refuses a stored version newer than the latest, saying so", () => {
    expect(() => pendingMigrations(three, 4, 3)).toThrow(SchemaVersionError);
    expect(() => pendingMigrations(three, 4, 3)).toThrow(/newer Sala \(schema version 4\).*up to 3/);
  });

  it("refuses a list that skips, repeats or does not reach the latest version", () => {
    expect(() => pendingMigrations([step(1), step(3)], 0, 3)).toThrow(/out of order: step 2 goes to version 3/);
    expect(() => pendingMigrations([step(1), step(1)], 0, 2)).toThrow(/out of order/);
    expect(() => pendingMigrations([step(1), step(2)], 0, 3)).toThrow(/ends at version 2, not at 3/);
  });

  it("the Redis list has one step per version up to SCHEMA_VERSION", () => {
    expect(pendingMigrations(REDIS_MIGRATIONS, 0).map((s) => s.to)).toEqual(Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1));
    // Version 1 is the repair, which nodes run while serving: safe online.
    expect(REDIS_MIGRATIONS[0]).toMatchObject({ to: 1, online: true });
  });
});

describe("applyMigrations", () => {
  it("runs each step, then records its version, before the next", async () => {
    const log: string[] = [];
    const applied = await applyMigrations(
      three,
      async (s) => {
        log.push(`run ${s.to}`);
        return `did ${s.to}`;
      },
      async (to) => void log.push(`reached ${to}`),
    );
    expect(log).toEqual(["run 1", "reached 1", "run 2", "reached 2", "run 3", "reached 3"]);
    expect(applied.map((a) => [a.to, a.outcome])).toEqual([
      [1, "did 1"],
      [2, "did 2"],
      [3, "did 3"],
    ]);
  });

  it("stops at a failure with the versions before it recorded; a second run resumes after them", async () => {
    let stored = 0;
    const ran: number[] = [];
    let broken = true;
    const run = async (s: MigrationStep) => {
      ran.push(s.to);
      if (s.to === 2 && broken) throw new Error("disk full");
      return "ok";
    };
    const reached = async (to: number) => void (stored = to);
    const failure = await applyMigrations(pendingMigrations(three, stored, 3), run, reached).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(MigrationFailure);
    expect(failure).toMatchObject({ to: 2, message: "the migration to schema version 2 failed: disk full" });
    expect((failure as MigrationFailure).applied.map((a) => a.to)).toEqual([1]);
    expect(stored).toBe(1);

    broken = false;
    ran.length = 0;
    await applyMigrations(pendingMigrations(three, stored, 3), run, reached);
    expect(ran).toEqual([2, 3]);
    expect(stored).toBe(3);
  });

  it("a step whose version cannot be recorded counts as not done", async () => {
    const failure = await applyMigrations(
      [step(1)],
      async () => "ok",
      async () => {
        throw new Error("READONLY");
      },
    ).catch((error: unknown) => error);
    expect(failure).toMatchObject({ to: 1, applied: [] });
  });
});

describe("parseSchemaVersion and startRefusal", () => {
  it("reads whole versions from 1, none as null, and refuses anything else", () => {
    expect(parseSchemaVersion(null)).toBeNull();
    expect(parseSchemaVersion("1")).toBe(1);
    expect(parseSchemaVersion("42")).toBe(42);
    for (const bad of ["0", "-1", "1.5", "01", " 1", "abc", "", "1e3", "99999999999"]) expect(() => parseSchemaVersion(bad), bad).toThrow(/unreadable schema version/);
  });

  it("lets a node start only on its own version, and says what to do otherwise", () => {
    expect(startRefusal(3, 3)).toBeNull();
    expect(startRefusal(4, 3)).toMatch(/newer Sala \(schema version 4\); this node knows schema versions up to 3: upgrade this node.*restore the backup/);
    expect(startRefusal(2, 3)).toMatch(/the data is at schema version 2; this node needs schema version 3: run `npm run admin -- migrate` \(`sala-admin migrate`/);
    expect(startRefusal(0, 3)).toMatch(/the data is from before schema versions \(version 0\); this node needs schema version 3/);
  });
});

describe("parseSchemaMigrateArgs", () => {
  it("takes --dry-run and --force, and refuses anything else as bad usage", () => {
    expect(parseSchemaMigrateArgs([])).toEqual({ dryRun: false, force: false });
    expect(parseSchemaMigrateArgs(["--force", "--dry-run"])).toEqual({ dryRun: true, force: true });
    expect(() => parseSchemaMigrateArgs(["--to", "2"])).toThrow(expect.objectContaining({ kind: "usage", message: expect.stringContaining("unknown argument: --to") }));
  });
});
