/**
 * The command lines of `backup` and `restore` (backup.ts, restore.ts), free of imports: store-tools.ts
 * reads them as it loads, and the tools themselves import commands.ts, which imports store-tools.ts.
 */
export const BACKUP_USAGE = "backup FILE";
export const RESTORE_USAGE = "restore FILE [--force] [--dry-run]";

/** Parses `FILE`; throws Error with a usage message. */
export function parseBackupArgs(args: string[]): { file: string } {
  const [file, ...extra] = args;
  if (!file || file.startsWith("-")) throw new Error("backup needs the FILE to write (e.g. sala-$(date +%F).backup.gz)");
  if (extra.length > 0) throw new Error(`unexpected argument: ${extra[0]}`);
  return { file };
}

export interface RestoreOptions {
  file: string;
  /** Delete every key under the prefix first, when the target is not empty. */
  force: boolean;
  /** Check the file and the target, write nothing. */
  dryRun: boolean;
}

/** Parses `FILE [--force] [--dry-run]`; throws Error with a usage message. */
export function parseRestoreArgs(args: string[]): RestoreOptions {
  const options: RestoreOptions = { file: "", force: false, dryRun: false };
  for (const arg of args) {
    if (arg === "--force") options.force = true;
    else if (arg === "--dry-run") options.dryRun = true;
    else if (arg.startsWith("-")) throw new Error(`unknown option: ${arg}`);
    else if (options.file) throw new Error(`unexpected argument: ${arg}`);
    else options.file = arg;
  }
  if (!options.file) throw new Error("restore needs the backup FILE to read");
  return options;
}
