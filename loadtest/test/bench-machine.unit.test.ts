/** What the benchmark reads about the server processes from the machine: context switches. */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { describe, expect, it } from "vitest";
import { contextSwitches } from "../src/bench/machine.js";

describe("bench machine readings", () => {
  it("counts a process's context switches, which grow each time it sleeps and wakes", async () => {
    // A child that sleeps and wakes every 2 ms until killed, and says when it has started.
    const child = spawn(process.execPath, ["-e", "setInterval(() => {}, 2); console.log('ready');"]);
    try {
      await once(child.stdout, "data");
      const before = await contextSwitches([child.pid!]);
      await new Promise((resolve) => setTimeout(resolve, 100));
      const after = await contextSwitches([child.pid!]);
      expect(Number.isFinite(before)).toBe(true);
      expect(after - before).toBeGreaterThanOrEqual(10);
    } finally {
      child.kill();
    }
  });

  it("gives NaN, not a partial count, when a process cannot be read", async () => {
    expect(await contextSwitches([process.pid, 2 ** 22 + 12_345])).toBeNaN();
  });
});
