/**
 * The schema version of Sala's stored data: which layout of keys (or, later, tables) the data is
 * in. A store records the version its data is at; a node starts only on data of its own version
 * (stores/redis/startup.ts), and `npm run admin -- migrate` (`sala-admin migrate`) brings older data
 * up, one migration per version, recording each version as it is reached, so that a run cut short
 * resumes where it stopped. Store-neutral (no I/O here): each store keeps its own list of
 * migrations in this shape (Redis: admin/schema-migrate.ts) and says where the version is kept.
 *
 * Versions (add a line, a migration in each store's list and a CHANGELOG upgrade note per bump):
 * - 0: no version recorded, data present: data written before schema versions (issue 19 and
 *   before, in the `{global}` layout; older layouts are moved first by migrate-to-cluster).
 * - 1: that layout plus the user directory (`{global}:users:byname`, every account by name for the
 *   operators' search), which the repair (stores/redis/repair.ts) builds from the user records.
 */
export const SCHEMA_VERSION = 1;

/** One step of a store's migration list: what brings data from version `to - 1` to `to`. */
export interface MigrationStep {
  to: number;
  /** One line for the operator: what the step does. */
  summary: string;
  /**
   * True when the step may run while nodes serve, older ones included (it only adds what the
   * running code ignores or rebuilds, and is idempotent); false when every node must be stopped.
   */
  online: boolean;
}

/** A store's data cannot be used by this node: the message says what the operator should do. */
export class SchemaVersionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SchemaVersionError";
  }
}

/** The stored version: null when none is recorded; an Error for anything but a whole number ≥ 1. */
export function parseSchemaVersion(raw: string | null): number | null {
  if (raw === null) return null;
  if (!/^[1-9][0-9]{0,8}$/.test(raw)) throw new Error(`an unreadable schema version ("${raw.slice(0, 40)}")`);
  return Number(raw);
}

const MIGRATE_COMMAND = "`npm run admin -- migrate` (`sala-admin migrate` in the Docker image)";

/** Why a node must not start on data of version `stored` (latest: what it knows), or null when it may. */
export function startRefusal(stored: number, latest = SCHEMA_VERSION): string | null {
  if (stored > latest) {
    return (
      `the data was written by a newer Sala (schema version ${stored}); this node knows schema versions up to ${latest}: ` +
      "upgrade this node to that Sala, or restore the backup taken before the upgrade (docs/OPERATIONS.md)"
    );
  }
  if (stored < latest) {
    const was = stored === 0 ? "is from before schema versions (version 0)" : `is at schema version ${stored}`;
    return `the data ${was}; this node needs schema version ${latest}: run ${MIGRATE_COMMAND} once, then start the nodes (docs/OPERATIONS.md, CHANGELOG.md)`;
  }
  return null;
}

/**
 * The migrations that bring data from `stored` to `latest`, in order. Throws when the list does not
 * hold exactly one step per version 1..latest (a programming error), or when `stored` is newer.
 */
export function pendingMigrations<M extends MigrationStep>(list: readonly M[], stored: number, latest = SCHEMA_VERSION): M[] {
  list.forEach((step, i) => {
    if (step.to !== i + 1) throw new Error(`migration list out of order: step ${i + 1} goes to version ${step.to}`);
  });
  if (list.length !== latest) throw new Error(`migration list ends at version ${list.length}, not at ${latest}`);
  if (stored > latest) throw new SchemaVersionError(startRefusal(stored, latest)!);
  return list.slice(stored);
}

export interface AppliedMigration {
  to: number;
  summary: string;
  /** What the step reported. */
  outcome: string;
  ms: number;
}

/**
 * Runs `pending` in order; after each, `reached(to)` records its version before the next starts,
 * so that a failure leaves the store at the last version reached and a new run resumes from there
 * (a step cut short runs again whole: each must be idempotent). A failure is thrown as a
 * MigrationFailure naming the step and the steps applied before it.
 */
export async function applyMigrations<M extends MigrationStep>(
  pending: readonly M[],
  run: (step: M) => Promise<string>,
  reached: (to: number) => Promise<void>,
): Promise<AppliedMigration[]> {
  const applied: AppliedMigration[] = [];
  for (const step of pending) {
    const started = Date.now();
    let outcome: string;
    try {
      outcome = await run(step);
      await reached(step.to);
    } catch (error) {
      throw new MigrationFailure(step.to, applied, error as Error);
    }
    applied.push({ to: step.to, summary: step.summary, outcome, ms: Date.now() - started });
  }
  return applied;
}

/** A migration failed: `applied` were done (their versions recorded), `to` was not. */
export class MigrationFailure extends Error {
  constructor(
    readonly to: number,
    readonly applied: AppliedMigration[],
    readonly reason: Error,
  ) {
    super(`the migration to schema version ${to} failed: ${reason.message}`);
    this.name = "MigrationFailure";
  }
}
