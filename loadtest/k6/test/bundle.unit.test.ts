/**
 * The k6 bundles, checked without k6 (Sala does not ship it). build.mjs builds them afresh into a
 * temporary folder; each must import only k6's own modules (k6 resolves nothing else), and,
 * evaluated with fake k6 modules, export a default function, setup() and options whose thresholds
 * name only metrics the script creates or k6's built-in `checks`.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import vm from "node:vm";
import { build, transformSync } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const SCRIPTS = ["login-storm", "lobby-churn", "room-chat", "whisper-storm"];
let outdir = "";

beforeAll(() => {
  outdir = mkdtempSync(join(tmpdir(), "sala-k6-"));
  execFileSync(process.execPath, [fileURLToPath(new URL("../build.mjs", import.meta.url)), outdir]);
});
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

/** Every import, require and dynamic import of a bundle, as esbuild's parser sees them. */
async function importsOf(file: string): Promise<{ path: string; kind: string }[]> {
  const result = await build({ entryPoints: [file], bundle: true, write: false, metafile: true, format: "esm", external: ["*"], logLevel: "silent" });
  return Object.values(result.metafile.inputs)
    .flatMap((input) => input.imports.map(({ path, kind }) => ({ path, kind })))
    .filter(({ path }) => path !== "<runtime>"); // esbuild's own helpers, added by this second pass
}

/** Runs a bundle's init code (what k6 runs before any VU) with fake k6 modules; its exports and the metrics it created. */
function load(name: string, env: Record<string, string> = {}) {
  const metrics: string[] = [];
  class Metric {
    constructor(name: string) {
      metrics.push(name);
    }
  }
  // Anything else a script touches at init (http.expectedStatuses…) answers with more of itself.
  const anything = (): any => new Proxy(function () {}, { get: (_target, key) => (key === "then" || key === "__esModule" ? undefined : anything()), apply: () => anything(), construct: () => anything() });
  const modules: Record<string, unknown> = {
    k6: { check: () => true, sleep: () => undefined },
    "k6/metrics": { Trend: Metric, Counter: Metric, Rate: Metric, Gauge: Metric },
    "k6/http": anything(),
    "k6/websockets": anything(),
    "k6/execution": anything(),
  };
  const require = (id: string) => {
    if (!(id in modules)) throw new Error(`the bundle requires "${id}"`);
    return modules[id];
  };
  const { code } = transformSync(readFileSync(join(outdir, `${name}.js`), "utf8"), { format: "cjs" });
  const module = { exports: {} as Record<string, any> };
  vm.runInNewContext(code, { module, exports: module.exports, require, __ENV: env, console, crypto: globalThis.crypto });
  return { exports: module.exports, metrics };
}

describe.each(SCRIPTS)("the k6 bundle %s.js", (name) => {
  it("imports k6's modules and nothing else", async () => {
    const imports = await importsOf(join(outdir, `${name}.js`));
    expect(imports.length).toBeGreaterThan(0);
    for (const { path, kind } of imports) {
      expect(kind).toBe("import-statement");
      expect(path).toMatch(/^k6(\/[a-z-]+)?$/);
    }
  });

  it("exports a default function, setup and options with thresholds on metrics it defines", () => {
    const { exports, metrics } = load(name);
    expect(typeof exports.default).toBe("function");
    expect(typeof exports.setup).toBe("function");
    expect(Object.keys(exports.options.scenarios)).toHaveLength(1);
    const thresholds: Record<string, string[]> = exports.options.thresholds;
    expect(thresholds.checks).toEqual(["rate==1"]);
    for (const metric of Object.keys(thresholds)) if (metric !== "checks") expect(metrics).toContain(metric);
    for (const metric of metrics) if (/_rtt|_latency|_login|_snapshot/.test(metric)) expect(thresholds[metric]).toEqual([expect.stringMatching(/^p\(95\)</), expect.stringMatching(/^p\(99\)</)]);
    if (name === "room-chat" || name === "whisper-storm") {
      expect(thresholds.sala_lost).toEqual(["count==0"]);
      expect(thresholds.sala_duplicated).toEqual(["count==0"]);
    }
  });
});

it("takes its settings from k6's environment", () => {
  const { exports } = load("room-chat", { USERS: "8", ACK_P99_MS: "40", DURATION: "2m" });
  expect(exports.options.scenarios.room_chat).toMatchObject({ executor: "per-vu-iterations", vus: 8, iterations: 1 });
  expect(exports.options.thresholds.sala_ack_rtt).toContain("p(99)<40");
  expect(() => load("room-chat", { RATE: "fast" })).toThrow(/RATE must be a positive number/);
});
