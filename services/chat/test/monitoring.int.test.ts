/**
 * Monitoring out of the box: a real node's scrape (after real logins, a failed login and room
 * messages over a socket) passes `promtool check metrics` with nothing to report; the shipped
 * infra/prometheus.yml passes `promtool check config`; every query of the Grafana dashboard
 * (infra/grafana/dashboards/sala.json) names only series the node exports, covers the panels
 * operators need, splits every series by node, and — run by a real Prometheus server scraping the
 * node — answers with that node's series; every sala_* metric is documented in docs/METRICS.md.
 * Needs Debian's prometheus package (promtool and prometheus): scripts/test.sh installs it.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { encryptText } from "@sala/protocol/envelope";
import { connect, eventually, newUsername, post, PASSWORD, registerAndLogin, request, startNode, type ClientSocket, type TestNode } from "./support/cluster.js";
import { uniquePrefix } from "./support/redis-client.js";
import { freePort } from "./support/redis-server.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const read = (path: string) => readFileSync(join(ROOT, path), "utf8");
const DASHBOARD = "infra/grafana/dashboards/sala.json";

function requireBinary(name: string): string {
  for (const dir of [...(process.env.PATH ?? "").split(delimiter), "/usr/bin", "/usr/sbin"]) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  throw new Error(`${name} is not installed. The test command (npm test → scripts/test.sh) installs Debian's prometheus package, which ships it; by hand: apt-get install --no-install-recommends prometheus`);
}

function promtool(args: string[], input?: string): { status: number | null; output: string } {
  const result = spawnSync(requireBinary("promtool"), args, { encoding: "utf8", timeout: 30_000, ...(input === undefined ? {} : { input }) });
  if (result.error) throw result.error;
  return { status: result.status, output: (result.stdout + result.stderr).trim() };
}

/** The metric names a scrape has samples for (histograms: their _bucket, _sum and _count series). */
function exportedNames(scrape: string): Set<string> {
  return new Set(scrape.split("\n").filter((line) => line && !line.startsWith("#")).map((line) => /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)![0]));
}

const PROMQL_WORDS = new Set(["by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset", "inf", "nan"]);

/**
 * The metric names a PromQL expression selects: what is left once strings, label matchers, range
 * and grouping clauses are taken out, minus function names (followed by "("), keywords and numbers.
 */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:\\.|[^"\\])*"/g, '""')
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ");
  return [...bare.matchAll(/(?<![\w$.:])([a-zA-Z_:][\w:]*)(?![\w:])(?!\s*\()/g)].map((match) => match[1]!).filter((name) => !PROMQL_WORDS.has(name.toLowerCase()));
}

interface Target {
  expr: string;
  legendFormat: string;
}
interface Panel {
  type: string;
  title: string;
  datasource?: { uid: string };
  targets?: Target[];
}
const dashboard = JSON.parse(read(DASHBOARD)) as { panels: Panel[]; templating: { list: Array<{ name: string; query: { query: string } }> } };
const queryPanels = dashboard.panels.filter((panel) => panel.targets);
const targets = queryPanels.flatMap((panel) => panel.targets!.map((target) => ({ panel: panel.title, ...target })));

/** Grafana's variables as a Prometheus server takes them: every node, a rate window that holds 1 s scrapes. */
function forPrometheus(expr: string): string {
  return expr.replaceAll("$__rate_interval", "10s").replaceAll("$node", ".*");
}

let prefix: string;
let node: TestNode;
let metricsPort: number;
const sockets: ClientSocket[] = [];
let prometheus: { url: string; child: ChildProcess; dir: string } | null = null;

async function scrape(): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
  expect(response.status).toBe(200);
  return response.text();
}

/** A real Prometheus server (Debian's) scraping the node's metrics port every second. */
async function startPrometheus(): Promise<{ url: string; child: ChildProcess; dir: string }> {
  const binary = requireBinary("prometheus");
  const dir = mkdtempSync(join(tmpdir(), "sala-prometheus-"));
  const config = join(dir, "prometheus.yml");
  writeFileSync(config, [
    "global:",
    "  scrape_interval: 1s",
    "scrape_configs:",
    "  - job_name: sala",
    "    static_configs:",
    `      - targets: ["127.0.0.1:${metricsPort}"]`,
    "",
  ].join("\n"));
  const port = await freePort();
  const child = spawn(binary, [
    `--config.file=${config}`, `--storage.tsdb.path=${join(dir, "data")}`, `--web.listen-address=127.0.0.1:${port}`, "--log.level=warn",
  ], { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  child.stderr!.on("data", (chunk: Buffer) => (log += chunk.toString()));
  const url = `http://127.0.0.1:${port}`;
  try {
    await eventually(async () => {
      if (child.exitCode !== null) throw new Error(`prometheus exited with ${child.exitCode}: ${log}`);
      return (await fetch(`${url}/-/ready`).catch(() => null))?.status === 200;
    }, 20_000, "prometheus to be ready");
  } catch (error) {
    child.kill("SIGTERM");
    throw error;
  }
  return { url, child, dir };
}

interface Series {
  metric: Record<string, string>;
  value: [number, string];
}
async function query(expr: string): Promise<Series[]> {
  const response = await fetch(`${prometheus!.url}/api/v1/query?query=${encodeURIComponent(expr)}`);
  const body = (await response.json()) as { status: string; error?: string; data: { resultType: string; result: Series[] } };
  if (body.status !== "success") throw new Error(`${expr}: ${body.error}`);
  expect(body.data.resultType).toBe("vector");
  return body.data.result;
}

beforeAll(async () => {
  prefix = uniquePrefix("mon");
  metricsPort = await freePort();
  node = await startNode(`${prefix}-node`, inject("redisUrl"), prefix, { METRICS_PORT: String(metricsPort) });
  prometheus = await startPrometheus();
}, 60_000);

afterAll(async () => {
  for (const socket of sockets) socket.close();
  if (prometheus && prometheus.child.exitCode === null) {
    const gone = new Promise((resolve) => prometheus!.child.once("exit", resolve));
    prometheus.child.kill("SIGTERM");
    await gone;
  }
  if (prometheus) rmSync(prometheus.dir, { recursive: true, force: true });
  await node?.node.close();
});

/** A login, a failed login, and room messages over a socket: every sala_* series gets samples. */
async function someActivity(): Promise<void> {
  const username = newUsername("mon");
  const cookie = await registerAndLogin(node, username);
  const failed = await post(`${node.url}/login`, { username, password: `${PASSWORD} wrong` });
  expect(failed.status).toBe(401);
  const socket = await connect(node, cookie);
  sockets.push(socket);
  const { room } = await request(socket, "create_room", { name: newUsername("monroom") });
  const { key } = await request(socket, "join_room", { roomId: room.id });
  for (let i = 0; i < 3; i++) expect((await request(socket, "text", { roomId: room.id, msg: encryptText(`m${i}`, room.id, key) })).ok).toBe(true);
}

describe("a real scrape", () => {
  it("passes `promtool check metrics` with nothing to report, with the conventional Node.js names", async () => {
    await someActivity();
    const text = await scrape();
    const names = exportedNames(text);
    expect(text).toMatch(/^sala_logins_total\{[^}]*result="success"[^}]*\} [1-9]/m);
    expect(text).toMatch(/^sala_logins_total\{[^}]*result="failure"[^}]*\} [1-9]/m);
    expect(text).toMatch(/^sala_messages_accepted_total\{node="[^"]+"\} [1-9]/m);
    expect(text).toMatch(/^sala_ack_latency_seconds_count\{[^}]*event="text"[^}]*\} [1-9]/m);
    expect(text).toMatch(/^sala_sockets\{node="[^"]+"\} 1$/m);
    // What ready-made Node.js dashboards query, unprefixed; the per-type gauges stay.
    for (const name of ["process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds", "nodejs_eventloop_lag_p99_seconds", "nodejs_heap_size_used_bytes", "nodejs_active_handles"]) {
      expect(names, name).toContain(name);
    }
    expect([...names].filter((name) => /^sala_(process|nodejs)_/.test(name))).toEqual([]);

    const checked = promtool(["check", "metrics"], text);
    expect(checked.output).toBe("");
    expect(checked.status).toBe(0);

    // The check is real: a gauge ending in _total (what prom-client's defaults had) is refused.
    const refused = promtool(["check", "metrics"], `${text}# HELP nodejs_active_handles_total Total number of active handles.\n# TYPE nodejs_active_handles_total gauge\nnodejs_active_handles_total 3\n`);
    expect(refused.status).not.toBe(0);
    expect(refused.output).toContain('nodejs_active_handles_total non-counter metrics should not have "_total" suffix');
  });

  it("documents every sala_* metric the node exports in docs/METRICS.md", async () => {
    const families = [...(await scrape()).matchAll(/^# TYPE (sala_\w+) (\w+)$/gm)].map((match) => ({ name: match[1]!, type: match[2]! }));
    expect(families.length).toBeGreaterThanOrEqual(8);
    const doc = read("docs/METRICS.md");
    for (const { name, type } of families) {
      const row = doc.split("\n").find((line) => line.startsWith(`| \`${name}\``));
      expect(row, `docs/METRICS.md has no table row for ${name}`).toBeDefined();
      expect(row, `docs/METRICS.md: ${name} is a ${type}`).toContain(type);
    }
  });
});

describe("infra/prometheus.yml", () => {
  it("passes `promtool check config`", () => {
    const checked = promtool(["check", "config", join(ROOT, "infra/prometheus.yml")]);
    expect(checked.status, checked.output).toBe(0);
    expect(checked.output).toContain("SUCCESS");
  });
});

describe("the Grafana dashboard", () => {
  it("names in its queries only series the node exports", async () => {
    const exported = exportedNames(await scrape());
    const expressions = [...targets.map((target) => target.expr), ...dashboard.templating.list.map((variable) => /^label_values\((\w+),/.exec(variable.query.query)![1]!)];
    expect(expressions.length).toBeGreaterThan(10);
    for (const expr of expressions) {
      const names = metricNames(expr);
      expect(names.length, `${expr} names no metric`).toBeGreaterThan(0);
      for (const name of names) expect(exported.has(name), `${expr}: ${name} is not in the node's scrape`).toBe(true);
    }
  });

  it("has the panels operators need, each series split by node", () => {
    const all = targets.map((target) => target.expr).join("\n");
    const uses = (name: string) => targets.filter((target) => metricNames(target.expr).some((found) => found === name || found.startsWith(name)));
    for (const name of ["sala_sockets", "sala_messages_accepted_total", "sala_deliveries_total", "sala_ack_latency_seconds_bucket", "nodejs_eventloop_lag_", "sala_redis_errors_total", "sala_logins_total", "process_resident_memory_bytes", "process_cpu_seconds_total"]) {
      expect(uses(name).length, `no panel shows ${name}`).toBeGreaterThan(0);
    }
    // Messages in and out as rates; ack latency as p50 and p99 of the histogram; logins by result.
    expect(all).toMatch(/rate\(sala_messages_accepted_total\{/);
    expect(all).toMatch(/rate\(sala_deliveries_total\{/);
    expect(all).toMatch(/histogram_quantile\(0\.5, sum by \(node, le\) \(rate\(sala_ack_latency_seconds_bucket\{/);
    expect(all).toMatch(/histogram_quantile\(0\.99, sum by \(node, le\) \(rate\(sala_ack_latency_seconds_bucket\{/);
    expect(uses("sala_logins_total").some((target) => /by \((node, )?result\)|by \(result, node\)/.test(target.expr))).toBe(true);
    for (const target of targets) {
      expect(target.legendFormat, `${target.panel}: the legend must name the node`).toContain("{{node}}");
      const groupings = [...target.expr.matchAll(/\b(by|without) \(([^)]*)\)/g)];
      expect(groupings.length, `${target.panel}: ${target.expr} is not aggregated by node`).toBeGreaterThan(0);
      for (const [, how, labels] of groupings) {
        if (how === "by") expect(labels!.split(",").map((label) => label.trim()), `${target.panel}: ${target.expr}`).toContain("node");
        else expect(labels, `${target.panel}: ${target.expr}`).not.toContain("node");
      }
      expect(target.expr, `${target.panel}: filter by the node variable`).toContain('node=~"$node"');
    }
    for (const panel of queryPanels) expect(panel.datasource?.uid, panel.title).toBe("prometheus");
    // The provisioned datasource carries that uid and points at the compose Prometheus.
    const datasource = read("infra/grafana/provisioning/datasources/prometheus.yml");
    expect(datasource).toMatch(/^\s+uid: prometheus$/m);
    expect(datasource).toMatch(/^\s+url: http:\/\/prometheus:9090$/m);
  });

  it("answers every query with the node's own series when a real Prometheus scrapes it", async () => {
    // Fresh traffic once Prometheus has scraped the node (a counter's first sample is no increase):
    // the rates have something to show.
    const before = await scrape();
    const accepted = Number(/^sala_messages_accepted_total\{[^}]*\} (\S+)$/m.exec(before)![1]);
    await eventually(async () => (await query("sala_messages_accepted_total")).some((series) => Number(series.value[1]) === accepted), 10_000, "a scrape");
    await someActivity();
    const expected = node.id;
    const results = new Map<string, Series[]>();
    const value = (panel: string) => Number(results.get(targets.find((target) => target.panel === panel)!.expr)?.[0]?.value[1]);
    const connected = sockets.filter((socket) => socket.connected).length;
    await eventually(async () => {
      for (const target of targets) results.set(target.expr, await query(forPrometheus(target.expr)));
      return [...results.values()].every((series) => series.length > 0) && value("Messages accepted per node") > 0 && value("Sockets per node") === connected;
    }, 20_000, "every dashboard query to return series, the new messages and the sockets").catch((error: Error) => {
      const empty = [...results].filter(([, series]) => series.length === 0).map(([expr]) => expr);
      throw new Error(`${error.message}; still empty: ${empty.join(" | ") || "none"}`);
    });
    for (const [expr, series] of results) {
      for (const one of series) expect(one.metric.node, expr).toBe(expected);
    }
    expect(value("Sockets per node")).toBe(connected);
    expect(value("Memory per node")).toBeGreaterThan(10_000_000);
    const nodes = await (await fetch(`${prometheus!.url}/api/v1/label/node/values?match[]=sala_sockets`)).json() as { data: string[] };
    expect(nodes.data).toEqual([expected]); // the dashboard's node variable
  }, 40_000);
});
