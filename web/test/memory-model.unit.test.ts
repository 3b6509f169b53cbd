/**
 * The /memory page's model: per-node series in time order, the rolling window, nodes dropped
 * after their TTL of silence, latest values, the clock correction, and the charts' data and text.
 */
import { describe, expect, it } from "vitest";
import type { NodeSample } from "@sala/protocol";
import { ClockOffset, DEFAULT_NODE_TTL_MS, DEFAULT_WINDOW_SEC, MIN_NODE_TTL_MS, MetricsModel, toMegabytes } from "../src/memory/metrics-model.js";
import { CHARTS, NodePalette, chartLines, chartSummary, describeWindow } from "../src/memory/chart-data.js";
import { en } from "../src/i18n/en.js";

const T0 = 1_700_000_000_000;
const MB = 1024 * 1024;

function sample(node: string, ts: number, overrides: Partial<NodeSample> = {}): NodeSample {
  return {
    node,
    ts,
    rssBytes: 80 * MB,
    heapUsedBytes: 30 * MB,
    cpuPercent: 4.5,
    loopDelayP50Ms: 10.1,
    loopDelayP99Ms: 12.3,
    loopDelayMaxMs: 20,
    sockets: 2,
    rooms: 1,
    messagesInPerSec: 0,
    deliveriesOutPerSec: 0,
    ...overrides,
  };
}

const t = (key: keyof typeof en, params: Record<string, string | number> = {}) =>
  en[key].replace(/\{(\w+)\}/g, (match, name: string) => (name in params ? String(params[name]) : match));

describe("MetricsModel", () => {
  it("keeps one series per node, oldest first, whatever the arrival order", () => {
    const model = new MetricsModel({ windowSec: 60, nodeTtlMs: 5000 });
    model.add(sample("b", T0 + 1000));
    model.add(sample("a", T0 + 2000));
    model.add(sample("a", T0));
    model.add(sample("a", T0 + 1000));
    expect(model.nodes()).toEqual(["a", "b"]);
    expect(model.samples("a").map((s) => s.ts)).toEqual([T0, T0 + 1000, T0 + 2000]);
    expect(model.samples("b").map((s) => s.ts)).toEqual([T0 + 1000]);
    expect(model.samples("nobody")).toEqual([]);
  });

  it("ignores a sample it already has (the subscription's recent samples and the live feed overlap)", () => {
    const model = new MetricsModel({ windowSec: 60, nodeTtlMs: 5000 });
    model.addAll([sample("a", T0), sample("a", T0 + 1000)]);
    expect(model.add(sample("a", T0 + 1000))).toBe(false);
    expect(model.add(sample("a", T0))).toBe(false);
    expect(model.add(sample("a", T0 + 2000))).toBe(true);
    expect(model.samples("a")).toHaveLength(3);
  });

  it("answers each node's latest values, in node order", () => {
    const model = new MetricsModel({ windowSec: 60, nodeTtlMs: 5000 });
    model.add(sample("n2", T0, { sockets: 1 }));
    model.add(sample("n1", T0 + 1000, { sockets: 7, rssBytes: 99 * MB }));
    model.add(sample("n1", T0, { sockets: 3 }));
    model.add(sample("n2", T0 + 1000, { sockets: 4 }));
    expect(model.latest("n1")?.sockets).toBe(7);
    expect(model.latest("n1")?.rssBytes).toBe(99 * MB);
    expect(model.latest("missing")).toBeUndefined();
    expect(model.latestAll().map((s) => [s.node, s.sockets])).toEqual([
      ["n1", 7],
      ["n2", 4],
    ]);
  });

  it("trims points older than the window", () => {
    const model = new MetricsModel({ windowSec: 10, nodeTtlMs: 5000 });
    for (let second = 0; second <= 30; second++) model.add(sample("a", T0 + second * 1000));
    expect(model.prune(T0 + 30_000)).toEqual([]);
    const kept = model.samples("a").map((s) => (s.ts - T0) / 1000);
    expect(kept[0]).toBe(20);
    expect(kept.at(-1)).toBe(30);
    expect(kept).toHaveLength(11);
  });

  it("drops a node silent for longer than its TTL, and keeps one that is not", () => {
    const model = new MetricsModel({ windowSec: 60, nodeTtlMs: 5000 });
    model.add(sample("alive", T0 + 10_000));
    model.add(sample("gone", T0));
    model.add(sample("gone", T0 + 4000));
    expect(model.prune(T0 + 9000)).toEqual([]); // exactly the TTL: still there
    expect(model.nodes()).toEqual(["alive", "gone"]);
    expect(model.prune(T0 + 9001)).toEqual(["gone"]);
    expect(model.nodes()).toEqual(["alive"]);
    expect(model.latest("gone")).toBeUndefined();
    expect(model.latestAll().map((s) => s.node)).toEqual(["alive"]);
  });

  it("brings a node back when it speaks again, and a new node appears at its first sample", () => {
    const model = new MetricsModel({ windowSec: 60, nodeTtlMs: 5000 });
    model.add(sample("a", T0));
    model.prune(T0 + 20_000);
    expect(model.nodes()).toEqual([]);
    model.add(sample("a", T0 + 21_000));
    model.add(sample("c", T0 + 21_000));
    expect(model.nodes()).toEqual(["a", "c"]);
    expect(model.samples("a")).toHaveLength(1);
  });

  it("gives chart points as seconds before now", () => {
    const model = new MetricsModel({ windowSec: 60, nodeTtlMs: 5000 });
    model.addAll([sample("a", T0, { cpuPercent: 1 }), sample("a", T0 + 1500, { cpuPercent: 2.5 })]);
    expect(model.points("a", (s) => s.cpuPercent, T0 + 3000)).toEqual([
      { x: -3, y: 1 },
      { x: -1.5, y: 2.5 },
    ]);
  });

  it("takes the server's window and TTL, keeping its defaults for missing or nonsense values", () => {
    const model = new MetricsModel();
    expect([model.windowSec, model.nodeTtlMs]).toEqual([DEFAULT_WINDOW_SEC, DEFAULT_NODE_TTL_MS]);
    model.configure({ windowSec: 120, nodeTtlMs: 0 });
    expect([model.windowSec, model.nodeTtlMs]).toEqual([120, DEFAULT_NODE_TTL_MS]);
    model.configure({ nodeTtlMs: 9000 });
    expect([model.windowSec, model.nodeTtlMs]).toEqual([120, 9000]);
    // Samples come once a second: a TTL of one second would drop live nodes between samples.
    model.configure({ nodeTtlMs: 1000 });
    expect(model.nodeTtlMs).toBe(MIN_NODE_TTL_MS);
  });

  it("converts bytes to MB with one decimal", () => {
    expect(toMegabytes(80 * MB)).toBe(80);
    expect(toMegabytes(1.26 * MB)).toBe(1.3);
  });
});

describe("ClockOffset", () => {
  it("turns the browser's clock into the nodes' clock from the fastest delivery seen", () => {
    const offset = new ClockOffset(3);
    expect(offset.now(T0)).toBe(T0); // nothing seen yet: trust the browser
    offset.observe(T0, T0 + 5030); // the browser is 5 s ahead, plus 30 ms on the wire
    offset.observe(T0 + 1000, T0 + 6010);
    offset.observe(T0 + 2000, T0 + 7200);
    expect(offset.ms).toBe(5010);
    expect(offset.now(T0 + 8010)).toBe(T0 + 3000);
    offset.observe(T0 + 3000, T0 + 8100); // keeps only the last 3: the 5010 one is forgotten
    offset.observe(T0 + 4000, T0 + 9100);
    expect(offset.ms).toBe(5100);
  });
});

describe("the charts' data", () => {
  it("draws one line per node and metric, a node keeping its colour", () => {
    const model = new MetricsModel({ windowSec: 60, nodeTtlMs: 5000 });
    model.addAll([sample("n1", T0), sample("n2", T0)]);
    const palette = new NodePalette();
    const memory = CHARTS.find((chart) => chart.id === "memory")!;
    const lines = chartLines(memory, model, T0 + 1000, palette, t);
    expect(lines.map((line) => [line.label, line.dashed])).toEqual([
      ["n1 RSS", false],
      ["n1 heap", true],
      ["n2 RSS", false],
      ["n2 heap", true],
    ]);
    expect(lines[0]!.points).toEqual([{ x: -1, y: 80 }]);
    expect(lines[1]!.points).toEqual([{ x: -1, y: 30 }]);
    expect(lines[0]!.color).toBe(lines[1]!.color);
    expect(lines[0]!.color).not.toBe(lines[2]!.color);

    // n1 leaves, n3 arrives: n2 keeps its colour, n3 gets a new one.
    const n2Color = palette.color("n2");
    model.add(sample("n3", T0 + 9000));
    model.add(sample("n2", T0 + 9000));
    model.prune(T0 + 9000);
    const cpu = chartLines(CHARTS.find((chart) => chart.id === "cpu")!, model, T0 + 9000, palette, t);
    expect(cpu.map((line) => line.label)).toEqual(["n2", "n3"]);
    expect(cpu[0]!.color).toBe(n2Color);
    expect(new Set([palette.color("n1"), palette.color("n2"), palette.color("n3")]).size).toBe(3);
  });

  it("says in words what each chart shows and its latest values", () => {
    const rates = CHARTS.find((chart) => chart.id === "rates")!;
    const format = (n: number) => String(n);
    expect(chartSummary(rates, [], 300, t, format)).toBe(
      "Room messages accepted (solid lines) and delivered (dashed lines) per second by each node over the last 5 min. No data yet.",
    );
    const text = chartSummary(rates, [sample("n1", T0, { messagesInPerSec: 3, deliveriesOutPerSec: 6.5 })], 90, t, format);
    expect(text).toContain("over the last 90 s.");
    expect(text).toContain("Latest: n1 in: 3/s; n1 delivered: 6.5/s.");
    const memory = chartSummary(CHARTS[0]!, [sample("n1", T0)], 300, t, format);
    expect(memory).toContain("n1 RSS: 80 MB; n1 heap: 30 MB");
  });

  it("describes the window in minutes when it is whole minutes", () => {
    expect(describeWindow(300, t)).toBe("5 min");
    expect(describeWindow(45, t)).toBe("45 s");
  });
});
