import { readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** Another live node holds the DATA_DIR: this one must not start on it. */
export class DataDirInUseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DataDirInUseError";
  }
}

/**
 * One node per DATA_DIR: `node.lock` holds the pid of the node that runs on it. A second node on
 * the same folder would share the file but not the live state kept beside it in each process
 * (presence, the lobby's revision, recent message ids), and their writes would wait on each other.
 * A lock left by a node that died (SIGKILL) names a pid no longer running — or,
 * in a container, this very process's — and is taken over.
 */
export class DataDirLock {
  private constructor(private readonly file: string) {}

  static acquire(dataDir: string): DataDirLock {
    const file = join(dataDir, "node.lock");
    for (let attempt = 0; ; attempt++) {
      try {
        writeFileSync(file, `${process.pid}\n`, { flag: "wx", mode: 0o600 });
        return new DataDirLock(file);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST" || attempt > 0) throw error;
      }
      const holder = Number.parseInt(readFileSync(file, "utf8"), 10);
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && running(holder)) {
        throw new DataDirInUseError(`DATA_DIR ${dataDir} is in use by another Sala node (pid ${holder}): one node per DATA_DIR — stop that one, or give this one a DATA_DIR of its own`);
      }
      unlinkSync(file); // left by a node that is gone
    }
  }

  /** Gives the folder back (the node's clean stop). */
  release(): void {
    try {
      if (Number.parseInt(readFileSync(this.file, "utf8"), 10) === process.pid) unlinkSync(this.file);
    } catch {
      // already gone: nothing to give back
    }
  }
}

function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"; // alive, another user's
  }
}
