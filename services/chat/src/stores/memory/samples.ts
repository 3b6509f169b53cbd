import type { NodeSample } from "@sala/protocol";
import type { SampleStore } from "../types.js";

export class MemorySampleStore implements SampleStore {
  private readonly byNode = new Map<string, NodeSample[]>();

  async record(sample: NodeSample, windowSec: number): Promise<void> {
    const series = this.byNode.get(sample.node) ?? [];
    series.push(sample);
    if (series.length > windowSec) series.splice(0, series.length - windowSec);
    this.byNode.set(sample.node, series);
  }

  async recent(now: number, ttlMs: number): Promise<NodeSample[]> {
    return [...this.byNode.values()].filter((series) => (series.at(-1)?.ts ?? 0) >= now - ttlMs).flat();
  }
}
