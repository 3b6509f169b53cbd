#!/usr/bin/env node
/**
 * The Node load driver: runs one of Sala's load scenarios against running nodes (or a load
 * balancer), with a progress line, and exits non-zero when a threshold fails (any lost or
 * duplicated delivery, any failed send or login) — the same thresholds the k6 scripts declare.
 *
 *   node loadtest/dist/driver/cli.js room-chat --url http://127.0.0.1:3000 --users 200 --rooms 20 --rate 200 --seconds 10
 *
 * Scenarios: login-storm, lobby-churn, room-chat, whisper-storm. `--url` takes a comma-separated
 * list (clients spread over it); `--origin` must be one of the nodes' ALLOWED_ORIGINS (default:
 * the first URL's origin); `--baseline` drives the bare baseline server instead of Sala.
 */
import { parseArgs } from "node:util";
import { randomBytes } from "node:crypto";
import { ProgressLine } from "./progress.js";
import { runScenario, SCENARIOS, type ScenarioName } from "./run-scenario.js";
import type { Target } from "../target.js";

const USAGE = `usage: cli.js <${SCENARIOS.join("|")}> --url URL[,URL...] [--origin O] [--baseline]
  [--users N] [--rooms R] [--rate MSG_PER_SEC] [--seconds S] [--concurrency C] [--prefix NAME]`;

function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      url: { type: "string" },
      origin: { type: "string" },
      baseline: { type: "boolean", default: false },
      users: { type: "string", default: "100" },
      rooms: { type: "string", default: "10" },
      rate: { type: "string", default: "100" },
      seconds: { type: "string", default: "10" },
      concurrency: { type: "string", default: "16" },
      prefix: { type: "string" },
    },
  });
  const scenario = positionals[0] as ScenarioName | undefined;
  if (!scenario || !SCENARIOS.includes(scenario) || !values.url) {
    console.error(USAGE);
    return Promise.resolve(2);
  }
  const urls = values.url.split(",").map((url) => url.trim()).filter(Boolean);
  const target: Target = { kind: values.baseline ? "baseline" : "sala", urls, origin: values.origin ?? new URL(urls[0]!).origin };
  const count = (name: keyof typeof values) => {
    const n = Number(values[name]);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number`);
    return n;
  };
  return runScenario(scenario, target, {
    users: count("users"),
    rooms: count("rooms"),
    rate: count("rate"),
    seconds: count("seconds"),
    concurrency: count("concurrency"),
    prefix: values.prefix ?? `lt${randomBytes(3).toString("hex")}-`,
    progress: new ProgressLine(),
    print: (line) => process.stdout.write(`${line}\n`),
  });
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
