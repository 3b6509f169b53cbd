/**
 * The backup file (docs/OPERATIONS.md, "Backup and restore"): gzip of UTF-8 JSON lines.
 *
 *   line 1     header   {"format":"sala-backup","version":1,"prefix":"sala","createdAt":"<ISO time>",
 *                        "schema":3 | null,"source":{"kind":"redis" | "redis-cluster","primaries":N,"redisVersion":"7.0.15"}}
 *   lines 2…   records  {"k":"{room:abc}:meta","f":"room","ttl":0,"d":"<base64 of the key's DUMP>"}
 *   last line  trailer  {"end":true,"keys":N,"families":{"room":…},"sha256":"<hex>"}
 *
 * `k` is the key's name after `<prefix>:` (its hash tag kept), so a restore puts it under any
 * prefix; `ttl` is the time it had left in ms (0: none); `d` is Redis's own serialisation (DUMP,
 * read back with RESTORE: the same or a newer Redis). The trailer's `sha256` covers every byte of
 * the uncompressed lines before it (their newlines included): a file cut short has no trailer, and
 * a changed byte changes the sum (gzip's own CRC-32 usually says so first).
 *
 * Both sides stream: the writer gzips line by line into `FILE.tmp` (mode 0600: the file holds
 * password hashes and room keys) and renames it once complete and flushed; the reader checks a
 * whole file before a restore writes anything, then reads it again to restore it.
 */
import { createHash, type Hash } from "node:crypto";
import { createReadStream } from "node:fs";
import { open, rename, rm } from "node:fs/promises";
import { dirname } from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip, createGzip } from "node:zlib";
import { AdminError } from "./admin-error.js";
import { DATA_FAMILIES, classifyKey, type DataFamily } from "./backup-keys.js";

export const BACKUP_FORMAT = "sala-backup";
export const BACKUP_VERSION = 1;

export interface BackupSource {
  kind: "redis" | "redis-cluster";
  /** Servers read: 1, or the cluster's primaries. */
  primaries: number;
  /** The newest Redis among them: a restore needs this one or newer (DUMP's format). */
  redisVersion: string;
}

export interface BackupHeader {
  format: typeof BACKUP_FORMAT;
  version: typeof BACKUP_VERSION;
  prefix: string;
  createdAt: string;
  /** `<prefix>:{global}:schema` when the backup was made; null: unversioned. */
  schema: number | null;
  source: BackupSource;
}

export interface BackupRecord {
  /** The key's name after `<prefix>:`. */
  k: string;
  f: DataFamily;
  /** ms it had left; 0: no TTL. */
  ttl: number;
  /** base64 of its DUMP. */
  d: string;
}

export type FamilyTally = Partial<Record<DataFamily, number>>;

export interface BackupTrailer {
  end: true;
  keys: number;
  families: FamilyTally;
  sha256: string;
}

export interface WrittenBackup {
  keys: number;
  families: FamilyTally;
  /** The trailer's sum (of the uncompressed content). */
  sha256: string;
  /** sha256 of the file as written (what `sha256sum FILE` prints), and its size. */
  fileSha256: string;
  bytes: number;
}

const REDIS_PREFIX = /^[A-Za-z0-9_.-]{1,64}$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
/** Longer than any key Sala builds: a line with a longer name is not one of its records. */
const MAX_KEY_LENGTH = 1024;
/** A record holds one key's DUMP (a Redis value is at most 512 MB): a longer line is not a record. */
const MAX_LINE_BYTES = 1024 * 1024 * 1024;

const line = (value: unknown) => Buffer.from(`${JSON.stringify(value)}\n`, "utf8");

function tally(families: FamilyTally, family: DataFamily): void {
  families[family] = (families[family] ?? 0) + 1;
}

/** Passes bytes on unchanged, counting and hashing them (the file's own sum). */
function tap(hash: Hash, count: { bytes: number }): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      count.bytes += chunk.length;
      done(null, chunk);
    },
  });
}

/**
 * Writes `header`, every record, and the trailer to `file`, through `file.tmp` (mode 0600, flushed,
 * then renamed over `file`). On any failure the temporary file is removed and `file` untouched.
 */
export async function writeBackup(file: string, header: BackupHeader, records: AsyncIterable<BackupRecord>): Promise<WrittenBackup> {
  const temporary = `${file}.tmp`;
  const whole = createHash("sha256");
  const count = { bytes: 0 };
  const written = { keys: 0, families: {} as FamilyTally, sha256: "" };
  async function* lines(): AsyncGenerator<Buffer> {
    const content = createHash("sha256");
    const first = line(header);
    content.update(first);
    yield first;
    for await (const record of records) {
      const next = line(record);
      content.update(next);
      written.keys++;
      tally(written.families, record.f);
      yield next;
    }
    written.sha256 = content.digest("hex");
    const trailer: BackupTrailer = { end: true, keys: written.keys, families: written.families, sha256: written.sha256 };
    yield line(trailer);
  }
  let handle;
  try {
    // A leftover of a run cut short goes; then created afresh, never through a link planted there.
    await rm(temporary, { force: true });
    handle = await open(temporary, "wx", 0o600);
  } catch (error) {
    throw new AdminError(`cannot write ${temporary}: ${(error as Error).message}`);
  }
  try {
    // Exactly 0600, whatever the umask.
    await handle.chmod(0o600);
    // `flush`: the data is on disk before the rename makes the file the backup.
    await pipeline(lines(), createGzip(), tap(whole, count), handle.createWriteStream({ flush: true }));
    await rename(temporary, file);
  } catch (error) {
    await handle.close().catch(() => undefined);
    await rm(temporary, { force: true });
    if (error instanceof AdminError) throw error;
    throw new AdminError(`backup not written (${file} unchanged): ${(error as Error).message}`);
  }
  await syncDirectory(dirname(file));
  return { ...written, fileSha256: whole.digest("hex"), bytes: count.bytes };
}

/** The rename is durable once the directory is flushed too (not every file system allows it). */
export async function syncDirectory(path: string): Promise<void> {
  try {
    const directory = await open(path, "r");
    try {
      await directory.sync();
    } finally {
      await directory.close();
    }
  } catch {
    // best effort
  }
}

/** A refusal that names the file: nothing was written. */
function bad(file: string, why: string): AdminError {
  return new AdminError(`${file}: ${why}; nothing restored`);
}

interface FileLine {
  /** 1-based line number. */
  number: number;
  text: string;
  /** The line's bytes with its newline, as the sums cover them. */
  bytes: Buffer;
}

/** The file's lines, gunzipped as they stream; gzip errors (truncated, damaged) are thrown as is. */
async function* fileLines(file: string): AsyncGenerator<FileLine> {
  const input = createReadStream(file);
  const gunzip = createGunzip();
  input.on("error", (error) => gunzip.destroy(error));
  input.pipe(gunzip);
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let number = 0;
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      let start = 0;
      for (let end = chunk.indexOf(10); end !== -1; end = chunk.indexOf(10, start)) {
        const bytes = Buffer.concat([...pending, chunk.subarray(start, end + 1)]);
        pending = [];
        pendingBytes = 0;
        start = end + 1;
        yield { number: ++number, text: bytes.toString("utf8", 0, bytes.length - 1), bytes };
      }
      if (start < chunk.length) {
        pending.push(chunk.subarray(start));
        pendingBytes += chunk.length - start;
        if (pendingBytes > MAX_LINE_BYTES) throw bad(file, `line ${number + 1} is longer than any backup record`);
      }
    }
  } finally {
    input.destroy();
    gunzip.destroy();
  }
  if (pending.length > 0) {
    const bytes = Buffer.concat(pending);
    yield { number: ++number, text: bytes.toString("utf8"), bytes };
  }
}

function parse(file: string, { number, text }: FileLine): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw bad(file, `line ${number} is not JSON: the file is damaged or not a Sala backup`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw bad(file, `line ${number} is not a JSON object`);
  return value as Record<string, unknown>;
}

function checkHeader(file: string, value: Record<string, unknown>): BackupHeader {
  if (value.format !== BACKUP_FORMAT) throw bad(file, `not a Sala backup (its first line has no "format":"${BACKUP_FORMAT}")`);
  if (typeof value.version !== "number" || value.version > BACKUP_VERSION) {
    throw bad(file, `backup format version ${String(value.version)}, this sala-admin reads version ${BACKUP_VERSION}: restore it with the Sala version that made it, or newer`);
  }
  if (value.version !== BACKUP_VERSION) throw bad(file, `unknown backup format version ${String(value.version)}`);
  const source = value.source as Record<string, unknown> | undefined;
  const valid =
    typeof value.prefix === "string" &&
    REDIS_PREFIX.test(value.prefix) &&
    typeof value.createdAt === "string" &&
    !Number.isNaN(Date.parse(value.createdAt)) &&
    (value.schema === null || Number.isSafeInteger(value.schema)) &&
    typeof source === "object" &&
    source !== null &&
    (source.kind === "redis" || source.kind === "redis-cluster") &&
    Number.isSafeInteger(source.primaries) &&
    typeof source.redisVersion === "string";
  if (!valid) throw bad(file, "its header is incomplete or malformed");
  return value as unknown as BackupHeader;
}

function checkRecord(file: string, value: Record<string, unknown>, number: number): BackupRecord {
  const { k, f, ttl, d } = value;
  const fields = Object.keys(value).length === 4;
  if (!fields || typeof k !== "string" || typeof f !== "string" || !Number.isSafeInteger(ttl) || (ttl as number) < 0 || typeof d !== "string") {
    throw bad(file, `line ${number} is not a backup record`);
  }
  if (k.length === 0 || k.length > MAX_KEY_LENGTH || d.length === 0 || d.length % 4 !== 0 || !BASE64.test(d)) throw bad(file, `line ${number} is not a backup record`);
  // The family must be what the key's name says, and one a backup holds: a file cannot smuggle a
  // session or a live key in, nor a record that does not count where the trailer says.
  const found = classifyKey("p", `p:${k}`);
  if (!found.data || found.family !== f) throw bad(file, `line ${number}: key ${k} is not a ${f} key a backup holds`);
  return value as unknown as BackupRecord;
}

function checkTrailer(file: string, value: Record<string, unknown>, seen: { keys: number; families: FamilyTally }, sha256: string): void {
  const families = value.families as Record<string, unknown> | undefined;
  if (typeof value.keys !== "number" || typeof families !== "object" || families === null || typeof value.sha256 !== "string") throw bad(file, "its trailer is malformed");
  if (value.sha256 !== sha256) throw bad(file, `checksum mismatch: the content's sha256 is ${sha256}, the trailer says ${value.sha256}: the file was altered or damaged`);
  if (value.keys !== seen.keys) throw bad(file, `the trailer counts ${value.keys} key(s), the file holds ${seen.keys}`);
  for (const family of new Set([...Object.keys(families), ...DATA_FAMILIES])) {
    if ((families[family] ?? 0) !== (seen.families[family as DataFamily] ?? 0)) {
      throw bad(file, `the trailer counts ${String(families[family] ?? 0)} ${family} key(s), the file holds ${seen.families[family as DataFamily] ?? 0}`);
    }
  }
}

export interface CheckedBackup {
  header: BackupHeader;
  keys: number;
  families: FamilyTally;
  sha256: string;
  /** The records whose TTL was 0, per family: a restore must find them all. */
  lasting: FamilyTally;
}

/**
 * Reads the whole file and checks it: gzip intact, a header this version reads, well-formed
 * records of the families a backup holds, no key twice, then a trailer whose counts and sum match
 * and nothing after it. Throws AdminError saying what is wrong. With `onRecord`, hands each record
 * on as it is read (the restore's second pass, which checks it all again as it goes).
 */
export async function readBackup(file: string, onRecord?: (record: BackupRecord) => Promise<void>): Promise<CheckedBackup> {
  const content = createHash("sha256");
  const seen = { keys: 0, families: {} as FamilyTally, lasting: {} as FamilyTally };
  // Names only (not values): a key twice would make RESTORE fail half-way.
  const names = new Set<string>();
  let header: BackupHeader | null = null;
  let trailer: { value: Record<string, unknown>; sha256: string } | null = null;
  try {
    for await (const current of fileLines(file)) {
      if (trailer) throw bad(file, `data after the trailer (line ${current.number})`);
      const value = parse(file, current);
      if (!header) {
        header = checkHeader(file, value);
        content.update(current.bytes);
        continue;
      }
      if (value.end === true) {
        trailer = { value, sha256: content.copy().digest("hex") };
        continue;
      }
      content.update(current.bytes);
      const record = checkRecord(file, value, current.number);
      if (names.has(record.k)) throw bad(file, `line ${current.number}: key ${record.k} appears twice`);
      names.add(record.k);
      seen.keys++;
      tally(seen.families, record.f);
      if (record.ttl === 0) tally(seen.lasting, record.f);
      if (onRecord) await onRecord(record);
    }
  } catch (error) {
    if (error instanceof AdminError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new AdminError(`${file}: no such file`);
    if (code === "EACCES" || code === "EISDIR") throw new AdminError(`cannot read ${file}: ${(error as Error).message}`);
    // zlib: "unexpected end of file" (cut short), "incorrect header check" (not gzip), "invalid …" (damaged).
    throw bad(file, `not a complete gzip file (${(error as Error).message}): it is truncated, damaged or not a Sala backup`);
  }
  if (!header) throw bad(file, "empty: not a Sala backup");
  if (!trailer) throw bad(file, `truncated: no trailer after ${seen.keys} record(s)`);
  checkTrailer(file, trailer.value, seen, trailer.sha256);
  return { header, keys: seen.keys, families: seen.families, sha256: trailer.sha256, lasting: seen.lasting };
}
