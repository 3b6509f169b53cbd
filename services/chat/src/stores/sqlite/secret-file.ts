import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import { dirname } from "node:path";

/**
 * The session secret of an embedded node without SESSION_SECRET, kept beside its SQLite file so
 * sessions outlive a restart as the data does: made once (random, readable by this user only),
 * read at every start after. Written whole to a file of its own, flushed, then linked into place:
 * a crash never leaves an empty secret, and of two starts at once one link wins (EEXIST) and both
 * read the same secret.
 */
export function storedSessionSecret(file: string): string {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const draft = `${file}.${process.pid}.tmp`;
  const fd = openSync(draft, "w", 0o600);
  try {
    writeSync(fd, `${randomSecret()}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(draft, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  } finally {
    unlinkSync(draft);
  }
  const secret = readFileSync(file, "utf8").trim();
  if (secret.length < 32) throw new Error(`${file} holds no session secret of at least 32 characters: remove it to have a new one made`);
  return secret;
}

function randomSecret(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
}
