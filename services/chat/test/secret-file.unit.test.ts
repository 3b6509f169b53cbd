/** The embedded node's session secret kept in DATA_DIR (stores/sqlite/secret-file.ts). */
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, expect, it } from "vitest";
import { storedSessionSecret } from "../src/stores/sqlite/secret-file.js";

let dir = "";
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "sala-secret-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

it("is made once, for this user only, then read back the same; no draft is left behind", () => {
  const file = join(dir, "data", "session-secret");
  const first = storedSessionSecret(file);
  expect(first.length).toBeGreaterThanOrEqual(32);
  expect(statSync(file).mode & 0o777).toBe(0o600);
  expect(statSync(join(dir, "data")).mode & 0o777).toBe(0o700);
  expect(storedSessionSecret(file)).toBe(first);
  expect(readdirSync(join(dir, "data"))).toEqual(["session-secret"]);
});

it("refuses a file that holds no secret, saying what to do", () => {
  const file = join(dir, "session-secret");
  writeFileSync(file, "short\n");
  expect(() => storedSessionSecret(file)).toThrow(/no session secret of at least 32 characters: remove it/);
});
