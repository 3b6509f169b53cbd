/**
 * Chart.js, only the pieces a line chart over a linear "seconds ago" axis needs (no time adapter).
 * The /memory page imports this module dynamically, so the chat's bundle never carries Chart.js.
 * Chart.js draws on a canvas and sizes it through the CSSOM: nothing here needs inline styles.
 */
import { Chart, Legend, LinearScale, LineController, LineElement, PointElement, Tooltip, type ChartDataset } from "chart.js";
import type { ChartLine } from "./chart-data.js";
import type { Point } from "./metrics-model.js";

Chart.register(LineController, LineElement, PointElement, LinearScale, Legend, Tooltip);
Chart.defaults.color = "#4b5563";
Chart.defaults.font.family = 'system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif';

export interface ChartSettings {
  windowSec: number;
  /** The x axis's title ("Seconds ago"). */
  axisTitle: string;
  /** The y axis's title (the unit), may be empty. */
  unitTitle: string;
  /** Whole numbers on the y axis (counts). */
  integer: boolean;
  /** Formats a value for the tooltip and the y axis. */
  format: (value: number) => string;
}

type Line = ChartDataset<"line", Point[]>;

export class LineChart {
  private readonly chart: Chart<"line", Point[]>;
  private settings: ChartSettings;

  constructor(canvas: HTMLCanvasElement, settings: ChartSettings) {
    this.settings = settings;
    this.chart = new Chart<"line", Point[]>(canvas, {
      type: "line",
      data: { datasets: [] },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        normalized: true,
        interaction: { mode: "nearest", axis: "x", intersect: false },
        elements: { point: { radius: 0, hoverRadius: 3 }, line: { borderWidth: 2 } },
        scales: {
          x: {
            type: "linear",
            min: -settings.windowSec,
            max: 0,
            title: { display: true, text: settings.axisTitle },
            ticks: { maxTicksLimit: 7, callback: (value) => String(Math.abs(Number(value))) },
          },
          y: {
            type: "linear",
            beginAtZero: true,
            title: { display: settings.unitTitle !== "", text: settings.unitTitle },
            ticks: {
              maxTicksLimit: 6,
              ...(settings.integer ? { precision: 0 } : {}),
              callback: (value) => this.settings.format(Number(value)),
            },
          },
        },
        plugins: {
          legend: { position: "bottom", labels: { boxWidth: 24, boxHeight: 2 } },
          tooltip: {
            callbacks: {
              title: (items) => `${Math.abs(items[0]?.parsed.x ?? 0)} s`,
              label: (item) => `${item.dataset.label ?? ""}: ${this.settings.format(item.parsed.y ?? 0)}`,
            },
          },
        },
      },
    });
  }

  /** Redraws with these lines (a line keeps its dataset, matched by label, so hover survives). */
  update(lines: readonly ChartLine[], settings: ChartSettings): void {
    this.settings = settings;
    const previous = new Map(this.chart.data.datasets.map((dataset) => [dataset.label, dataset]));
    this.chart.data.datasets = lines.map((line): Line => {
      const dataset: Line = previous.get(line.label) ?? { label: line.label, data: [] };
      dataset.data = line.points;
      dataset.borderColor = line.color;
      dataset.backgroundColor = line.color;
      dataset.borderDash = line.dashed ? [6, 4] : [];
      return dataset;
    });
    const { x, y } = this.chart.options.scales ?? {};
    if (x) {
      x.min = -settings.windowSec;
      if (x.title) x.title.text = settings.axisTitle;
    }
    if (y?.title) y.title.text = settings.unitTitle;
    this.chart.update("none");
  }

  destroy(): void {
    this.chart.destroy();
  }
}
