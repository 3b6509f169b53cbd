/**
 * The /memory page's data, without any UI: every node's samples over a rolling window.
 *
 * Times are the samples' own (the nodes' clocks). `add` keeps each node's samples in time order
 * and ignores a sample it already has (the subscription's `recent` and the live feed overlap);
 * `prune(now)` forgets samples older than the window and nodes silent for longer than their TTL.
 * `ClockOffset` turns the browser's clock into the nodes' clock, so a browser whose clock is off
 * does not drop live nodes or draw them in the past.
 */
import type { NodeSample } from "@sala/protocol";

/** A number a chart can draw from a sample. */
export type Metric = (sample: NodeSample) => number;

/** A point of a chart: seconds before `now` (negative or zero) and the value. */
export interface Point {
  x: number;
  y: number;
}

export interface ModelOptions {
  /** Seconds of history kept. */
  windowSec: number;
  /** A node with no sample for longer than this is gone. */
  nodeTtlMs: number;
}

export const DEFAULT_WINDOW_SEC = 300;
export const DEFAULT_NODE_TTL_MS = 10_000;
/**
 * Nodes sample once a second: one missed (or late) sample is not silence. A TTL shorter than
 * this (test clusters run with a 1 s heartbeat TTL) is raised to it.
 */
export const MIN_NODE_TTL_MS = 3000;

const MB = 1024 * 1024;
export const toMegabytes = (bytes: number): number => Math.round((bytes / MB) * 10) / 10;

export class MetricsModel {
  private readonly series = new Map<string, NodeSample[]>();

  constructor(private options: ModelOptions = { windowSec: DEFAULT_WINDOW_SEC, nodeTtlMs: DEFAULT_NODE_TTL_MS }) {}

  get windowSec(): number {
    return this.options.windowSec;
  }

  get nodeTtlMs(): number {
    return this.options.nodeTtlMs;
  }

  /** The server's settings arrive with the subscription. */
  configure(options: Partial<ModelOptions>): void {
    this.options = {
      windowSec: options.windowSec && options.windowSec > 0 ? options.windowSec : this.options.windowSec,
      nodeTtlMs: options.nodeTtlMs && options.nodeTtlMs > 0 ? Math.max(MIN_NODE_TTL_MS, options.nodeTtlMs) : this.options.nodeTtlMs,
    };
  }

  /** Adds one sample; answers false when it was already there. */
  add(sample: NodeSample): boolean {
    let samples = this.series.get(sample.node);
    if (!samples) {
      samples = [];
      this.series.set(sample.node, samples);
    }
    // Samples nearly always arrive in order: look for the place from the end.
    let at = samples.length;
    while (at > 0 && samples[at - 1]!.ts > sample.ts) at--;
    if (at > 0 && samples[at - 1]!.ts === sample.ts) return false;
    samples.splice(at, 0, sample);
    return true;
  }

  addAll(samples: readonly NodeSample[]): void {
    for (const sample of samples) this.add(sample);
  }

  /**
   * Forgets what `now` (in the nodes' clock) makes stale: samples older than the window, and
   * nodes whose last sample is older than their TTL. Answers the nodes it dropped.
   */
  prune(now: number): string[] {
    const dropped: string[] = [];
    const oldest = now - this.options.windowSec * 1000;
    for (const [node, samples] of this.series) {
      const last = samples[samples.length - 1];
      if (!last || now - last.ts > this.options.nodeTtlMs) {
        this.series.delete(node);
        dropped.push(node);
        continue;
      }
      const keepFrom = samples.findIndex((sample) => sample.ts >= oldest);
      if (keepFrom > 0) samples.splice(0, keepFrom);
    }
    return dropped;
  }

  /** The live nodes' ids, in a stable (sorted) order. */
  nodes(): string[] {
    return [...this.series.keys()].sort((a, b) => a.localeCompare(b));
  }

  /** A node's samples, oldest first. */
  samples(node: string): readonly NodeSample[] {
    return this.series.get(node) ?? [];
  }

  /** A node's newest sample. */
  latest(node: string): NodeSample | undefined {
    const samples = this.series.get(node);
    return samples?.[samples.length - 1];
  }

  /** Every live node's newest sample, in node order. */
  latestAll(): NodeSample[] {
    return this.nodes().map((node) => this.latest(node)!);
  }

  /** One metric of one node as chart points: x is seconds before `now`. */
  points(node: string, metric: Metric, now: number): Point[] {
    return this.samples(node).map((sample) => ({ x: Math.round((sample.ts - now) / 100) / 10, y: metric(sample) }));
  }
}

/**
 * How far the browser's clock is ahead of the nodes': the smallest (arrival − sample time) among
 * recent live samples, which is the clock difference plus the shortest delivery delay.
 */
export class ClockOffset {
  private readonly recent: number[] = [];

  constructor(private readonly keep = 20) {}

  observe(sampleTs: number, receivedAt: number): void {
    this.recent.push(receivedAt - sampleTs);
    if (this.recent.length > this.keep) this.recent.shift();
  }

  /** Milliseconds to subtract from the browser's clock to get the nodes' clock. */
  get ms(): number {
    return this.recent.length ? Math.min(...this.recent) : 0;
  }

  /** The nodes' "now", from the browser's clock. */
  now(browserNow: number): number {
    return browserNow - this.ms;
  }
}
