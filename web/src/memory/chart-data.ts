/**
 * What the /memory page charts, as data: which metrics each chart draws (one line per node and
 * metric), the lines themselves from a MetricsModel, and each chart's text alternative.
 */
import type { NodeSample } from "@sala/protocol";
import type { MessageKey } from "../i18n/en.js";
import { toMegabytes, type Metric, type MetricsModel, type Point } from "./metrics-model.js";

type Translate = (key: MessageKey, params?: Record<string, string | number>) => string;

interface MetricLine {
  /** The line's legend label, with a {node} placeholder. */
  label: MessageKey;
  metric: Metric;
  /** The second metric of a chart is dashed, in the node's colour. */
  dashed: boolean;
}

export interface ChartDefinition {
  id: "memory" | "cpu" | "sockets" | "rates";
  title: MessageKey;
  /** What the chart shows, with a {window} placeholder. */
  description: MessageKey;
  /** What follows a value: " MB", "%", "/s", or "" for counts. */
  suffix: string;
  /** Whole numbers only (counts): no 0.5 socket on the axis. */
  integer: boolean;
  /** The y axis's title, if any. */
  axis: MessageKey | null;
  lines: MetricLine[];
}

export const CHARTS: readonly ChartDefinition[] = [
  {
    id: "memory",
    title: "memory.chart.memory",
    description: "memory.chart.memoryText",
    suffix: " MB",
    axis: "memory.axis.mb",
    integer: false,
    lines: [
      { label: "memory.line.rss", metric: (s) => toMegabytes(s.rssBytes), dashed: false },
      { label: "memory.line.heap", metric: (s) => toMegabytes(s.heapUsedBytes), dashed: true },
    ],
  },
  {
    id: "cpu",
    title: "memory.chart.cpu",
    description: "memory.chart.cpuText",
    suffix: "%",
    axis: "memory.axis.percent",
    integer: false,
    lines: [{ label: "memory.line.node", metric: (s) => s.cpuPercent, dashed: false }],
  },
  {
    id: "sockets",
    title: "memory.chart.sockets",
    description: "memory.chart.socketsText",
    suffix: "",
    axis: null,
    integer: true,
    lines: [{ label: "memory.line.node", metric: (s) => s.sockets, dashed: false }],
  },
  {
    id: "rates",
    title: "memory.chart.rates",
    description: "memory.chart.ratesText",
    suffix: "/s",
    axis: "memory.axis.perSecond",
    integer: false,
    lines: [
      { label: "memory.line.in", metric: (s) => s.messagesInPerSec, dashed: false },
      { label: "memory.line.out", metric: (s) => s.deliveriesOutPerSec, dashed: true },
    ],
  },
];

/** One line as a chart draws it. */
export interface ChartLine {
  label: string;
  color: string;
  dashed: boolean;
  points: Point[];
}

/**
 * A colour per node, kept for the page's life: a node keeps its colour when others come and go.
 * Dark enough to read against white (WCAG AA for graphics).
 */
export class NodePalette {
  static readonly COLORS = ["#1d4ed8", "#b91c1c", "#047857", "#b45309", "#6d28d9", "#0e7490", "#be185d", "#4d7c0f"] as const;
  private readonly assigned = new Map<string, string>();

  color(node: string): string {
    let color = this.assigned.get(node);
    if (!color) {
      color = NodePalette.COLORS[this.assigned.size % NodePalette.COLORS.length]!;
      this.assigned.set(node, color);
    }
    return color;
  }
}

export function chartLines(chart: ChartDefinition, model: MetricsModel, now: number, palette: NodePalette, t: Translate): ChartLine[] {
  return model.nodes().flatMap((node) =>
    chart.lines.map((line) => ({
      label: t(line.label, { node }),
      color: palette.color(node),
      dashed: line.dashed,
      points: model.points(node, line.metric, now),
    })),
  );
}

/** "5 min" or "45 s". */
export function describeWindow(windowSec: number, t: Translate): string {
  return windowSec % 60 === 0 ? t("memory.windowMinutes", { n: windowSec / 60 }) : t("memory.windowSeconds", { n: windowSec });
}

/** The chart's text alternative: what it shows, and every line's latest value. */
export function chartSummary(chart: ChartDefinition, latest: readonly NodeSample[], windowSec: number, t: Translate, format: (n: number) => string): string {
  const what = t(chart.description, { window: describeWindow(windowSec, t) });
  if (latest.length === 0) return `${what} ${t("memory.noData")}`;
  const values = latest
    .flatMap((sample) => chart.lines.map((line) => `${t(line.label, { node: sample.node })}: ${format(line.metric(sample))}${chart.suffix}`))
    .join("; ");
  return `${what} ${t("memory.latest", { values })}`;
}
