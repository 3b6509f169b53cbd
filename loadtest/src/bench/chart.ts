/** The latency-against-load chart of the report: an SVG rendered by Vega-Lite (headless, no canvas). */
import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";
import type { ChatRow } from "./phases.js";

export async function latencyChart(title: string, rows: ChatRow[]): Promise<string> {
  const values = rows.flatMap((row) => [
    { system: row.system, load: row.deliveriesPerSec / 1000, ms: row.result.deliveryLatency.percentile(99), stat: "delivery p99" },
    { system: row.system, load: row.deliveriesPerSec / 1000, ms: row.result.deliveryLatency.percentile(50), stat: "delivery p50" },
  ]);
  const spec: TopLevelSpec = {
    title,
    width: 520,
    height: 260,
    background: "white",
    data: { values },
    mark: { type: "line", point: true },
    encoding: {
      x: { field: "load", type: "quantitative", title: "deliveries per second (thousands)" },
      y: { field: "ms", type: "quantitative", title: "delivery latency (ms)" },
      color: { field: "system", type: "nominal", title: null },
      strokeDash: { field: "stat", type: "nominal", title: null },
    },
  };
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: "none" });
  return view.toSVG();
}
