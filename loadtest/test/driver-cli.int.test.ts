/**
 * The load driver's command line as a user meets it (`npm run load -- …` runs the built
 * loadtest/dist/driver/cli.js): --help prints the usage and exits 0, for the driver and for each
 * scenario; a mistake prints what is wrong and the usage, and exits 2; never a stack trace.
 * Nothing here reaches a server.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { SCENARIOS } from "../src/driver/run-scenario.js";

const CLI = fileURLToPath(new URL("../dist/driver/cli.js", import.meta.url));

function runCli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", timeout: 10_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const STACK_FRAME = /^\s+at /m;

describe("npm run load -- --help", () => {
  it("prints every scenario and option, and exits 0", () => {
    for (const args of [["--help"], ["-h"]]) {
      const { code, stdout, stderr } = runCli(args);
      expect(code).toBe(0);
      expect(stderr).toBe("");
      expect(stdout).toMatch(/^usage: npm run load -- <login-storm\|lobby-churn\|room-chat\|whisper-storm> --url/);
      for (const scenario of SCENARIOS) expect(stdout).toMatch(new RegExp(`^  ${scenario} `, "m"));
      for (const option of ["--url", "--origin", "--baseline", "--users", "--rooms", "--rate", "--seconds", "--concurrency", "--prefix", "--help"]) {
        expect(stdout).toContain(option);
      }
    }
  });

  for (const scenario of SCENARIOS) {
    it(`${scenario} --help prints that scenario's usage and exits 0, without running it`, () => {
      const { code, stdout, stderr } = runCli([scenario, "--help"]);
      expect(code).toBe(0);
      expect(stderr).toBe("");
      expect(stdout).toMatch(new RegExp(`^usage: npm run load -- ${scenario} --url`));
      expect(stdout).toMatch(new RegExp(`^${scenario}: `, "m"));
      expect(stdout).not.toMatch(STACK_FRAME);
    });
  }
});

describe("npm run load with a mistake", () => {
  const mistakes: Array<[string, string[], RegExp]> = [
    ["an unknown option", ["room-chat", "--url", "http://127.0.0.1:1", "--bogus"], /Unknown option '--bogus'/],
    ["an option without its value", ["room-chat", "--url"], /--url/],
    ["no scenario", ["--url", "http://127.0.0.1:1"], /which scenario\?/],
    ["an unknown scenario", ["room-party", "--url", "http://127.0.0.1:1"], /unknown scenario: room-party/],
    ["no --url", ["room-chat"], /--url is required/],
    ["a --url that is not one", ["room-chat", "--url", "nodes"], /--url: not a URL: nodes/],
    ["a count that is not a positive number", ["room-chat", "--url", "http://127.0.0.1:1", "--users", "many"], /--users must be a positive number/],
  ];
  for (const [what, args, message] of mistakes) {
    it(`says what is wrong with ${what}, prints the usage and exits 2`, () => {
      const { code, stdout, stderr } = runCli(args);
      expect(code).toBe(2);
      expect(stdout).toBe("");
      expect(stderr).toMatch(message);
      expect(stderr).toContain("usage: npm run load --");
      expect(stderr).not.toMatch(STACK_FRAME);
    });
  }
});
