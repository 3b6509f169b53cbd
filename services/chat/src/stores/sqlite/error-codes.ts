/**
 * SQLite result codes (better-sqlite3 puts them on the error's `code`, extended ones included:
 * SQLITE_IOERR_WRITE) sorted by what they say about the file rather than about one statement.
 */

/** The file cannot be used right now: locked past its wait, full, failing, read-only, gone. Clients may try again. */
const UNAVAILABLE = /^SQLITE_(BUSY|LOCKED|FULL|IOERR|READONLY|CANTOPEN|PROTOCOL)/;
/** The file is damaged or not a database: every statement on it fails alike, but trying again will not help. */
const DAMAGED = /^SQLITE_(CORRUPT|NOTADB)/;

/** A code for "the file cannot be used right now" (errors.ts answers UNAVAILABLE for it). */
export function isSqliteUnavailable(code: unknown): boolean {
  return typeof code === "string" && UNAVAILABLE.test(code);
}

/** A code of the file as a whole, not of one statement: unavailable, or damaged. */
export function isSqliteFileWide(code: unknown): boolean {
  return isSqliteUnavailable(code) || (typeof code === "string" && DAMAGED.test(code));
}
