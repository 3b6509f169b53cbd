#!/usr/bin/env node
/**
 * The Node load driver: runs one of Sala's load scenarios against running nodes (or a load
 * balancer), with a progress line, and exits non-zero when a threshold fails (any lost or
 * duplicated delivery, any failed send or login) — the same thresholds the k6 scripts declare.
 *
 *   npm run load -- room-chat --url http://127.0.0.1:3000 --users 200 --rooms 20 --rate 200 --seconds 10
 *   npm run load -- --help              (every scenario and option; `<scenario> --help`: that one)
 *
 * Scenarios: login-storm, lobby-churn, room-chat, whisper-storm. `--url` takes a comma-separated
 * list (clients spread over it); `--origin` must be one of the nodes' ALLOWED_ORIGINS (default:
 * the first URL's origin); `--baseline` drives the bare baseline server instead of Sala.
 * Exit codes: 0 thresholds held (or --help), 1 a threshold failed or the run broke, 2 a usage mistake.
 */
import { parseArgs } from "node:util";
import { randomBytes } from "node:crypto";
import { ProgressLine } from "./progress.js";
import { runScenario, SCENARIOS, type ScenarioName } from "./run-scenario.js";
import type { Target } from "../target.js";

const OPTIONS = `options:
  --url URL[,URL...]   the nodes or the load balancer (required); clients are spread over the list
  --origin ORIGIN      sent as Origin; must be one of the nodes' ALLOWED_ORIGINS (default: the first URL's)
  --baseline           drive the bare baseline server (loadtest/src/baseline) instead of Sala
  --users N            users to register and log in (default 100)
  --rooms R            rooms, for room-chat (default 10)
  --rate N             messages (or whispers) per second, all users together (default 100)
  --seconds S          how long to send or churn (default 10)
  --concurrency C      registrations and logins at once (default 16)
  --prefix NAME        usernames are NAME0, NAME1, … (default: a random lt…- prefix)
  -h, --help           this text`;

/** What each scenario does, and when it fails (exit code 1). */
const SCENARIO_HELP: Record<ScenarioName, string> = {
  "login-storm": "registers --users users and logs each in, --concurrency at once; fails on any failed registration or login",
  "lobby-churn": "users connect, wait for their lobby snapshot and disconnect, over and over, for --seconds; fails on any error",
  "room-chat": "--users users in --rooms rooms send --rate messages per second for --seconds; fails on any lost, duplicated or failed message",
  "whisper-storm": "users in pairs whisper at --rate per second for --seconds; fails on any lost, duplicated or failed whisper",
};

function usage(scenario?: ScenarioName): string {
  const synopsis = `usage: npm run load -- ${scenario ?? `<${SCENARIOS.join("|")}>`} --url URL[,URL...] [options]`;
  const about = scenario
    ? `${scenario}: ${SCENARIO_HELP[scenario]}`
    : `scenarios:\n${SCENARIOS.map((name) => `  ${name.padEnd(14)} ${SCENARIO_HELP[name]}`).join("\n")}`;
  return `${synopsis}\n\n${about}\n\n${OPTIONS}\n`;
}

const isScenario = (name: string | undefined): name is ScenarioName => SCENARIOS.includes(name as ScenarioName);

/** A mistake on the command line: the message and the usage on stderr, exit code 2. */
class UsageError extends Error {}

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
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
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (error) {
    // Unknown options and missing values: parseArgs' message says which.
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  const scenario = positionals[0];
  if (values.help) {
    process.stdout.write(usage(isScenario(scenario) ? scenario : undefined));
    return 0;
  }
  if (!isScenario(scenario)) throw new UsageError(scenario ? `unknown scenario: ${scenario}` : "which scenario?");
  if (positionals.length > 1) throw new UsageError(`unexpected argument: ${positionals[1]}`);
  if (!values.url) throw new UsageError("--url is required");
  const urls = values.url.split(",").map((url) => url.trim()).filter(Boolean);
  const notUrl = urls.find((url) => !URL.canParse(url));
  if (urls.length === 0 || notUrl !== undefined) throw new UsageError(`--url: not a URL: ${notUrl ?? values.url}`);
  const target: Target = { kind: values.baseline ? "baseline" : "sala", urls, origin: values.origin ?? new URL(urls[0]!).origin };
  const count = (name: "users" | "rooms" | "rate" | "seconds" | "concurrency") => {
    const n = Number(values[name]);
    if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--${name} must be a positive number`);
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

function fail(error: unknown): number {
  if (error instanceof UsageError) {
    process.stderr.write(`sala-load: ${error.message}\n\n${usage()}`);
    return 2;
  }
  process.stderr.write(`sala-load: ${error instanceof Error ? error.message : String(error)}\n`);
  return 1;
}

// Bad arguments and failed runs alike end with a message, never a stack trace.
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => process.exit(fail(error)),
);
