import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

/**
 * The session secret of an embedded node without SESSION_SECRET, kept beside its SQLite file so
 * sessions outlive a restart as the data does: made once (random, readable by this user only;
 * "wx": two starts never both write it), read at every start after.
 */
export function storedSessionSecret(file: string): string {
  mkdirSync(dirname(file), { recursive: true });
  try {
    writeFileSync(file, `${randomSecret()}\n`, { flag: "wx", mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  const secret = readFileSync(file, "utf8").trim();
  if (secret.length < 32) throw new Error(`${file} holds no session secret of at least 32 characters: remove it to have a new one made`);
  return secret;
}

function randomSecret(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
}
