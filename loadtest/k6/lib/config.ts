/**
 * Settings of the k6 scripts, from k6's environment (`k6 run -e USERS=500 …` or the shell's
 * environment). An empty value counts as unset, so compose can pass variables through blank.
 *
 *   BASE_URL   Sala (a node or the load balancer)        http://nginx:8080 (compose)
 *   ORIGIN     Origin header; must be in ALLOWED_ORIGINS  BASE_URL's origin
 *   PREFIX     usernames and room names start with it     k6<time>- (fresh for each run)
 *   USERS, ROOMS, RATE, DURATION, DRAIN …                  per script (see its header)
 */
import exec from "k6/execution";

function raw(name: string): string | undefined {
  const value = __ENV[name];
  return value === undefined || value === "" ? undefined : value;
}

export function text(name: string, fallback: string): string {
  return raw(name) ?? fallback;
}

export function positive(name: string, fallback: number): number {
  const value = Number(raw(name) ?? fallback);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, not "${raw(name)}"`);
  return value;
}

/** A k6 duration ("90s", "2m", "500ms", "1h") in milliseconds. */
export function durationMs(value: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(value);
  if (!match) throw new Error(`"${value}" is not a duration like 30s, 2m or 500ms`);
  return Number(match[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2] as "ms" | "s" | "m" | "h"];
}

export const BASE_URL = text("BASE_URL", "http://nginx:8080").replace(/\/+$/, "");
export const ORIGIN = text("ORIGIN", /^https?:\/\/[^/]+/.exec(BASE_URL)?.[0] ?? BASE_URL);

/** What setup() hands every VU: one name prefix for the whole run (VUs do not share memory). */
export interface RunData {
  prefix: string;
}

export function setup(): RunData {
  const prefix = text("PREFIX", `k6${Date.now().toString(36)}-`);
  console.info(`Sala at ${BASE_URL} (Origin ${ORIGIN}); users and rooms named ${prefix}…`);
  return { prefix };
}

/** This VU's 0-based index in the whole test (k6 numbers VUs from 1). */
export function vuIndex(): number {
  return exec.vu.idInTest - 1;
}

/** `p(95)<a` and `p(99)<b` for a Trend, each overridable (e.g. ACK_P99_MS=40). */
export function latencyThresholds(metric: string, envPrefix: string, p95Ms: number, p99Ms: number): Record<string, string[]> {
  return { [metric]: [`p(95)<${positive(`${envPrefix}_P95_MS`, p95Ms)}`, `p(99)<${positive(`${envPrefix}_P99_MS`, p99Ms)}`] };
}

/** Every check must pass: a failed login, connect, send or decryption fails the run. */
export const ALL_CHECKS = { checks: ["rate==1"] };
