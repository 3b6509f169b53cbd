import { monitorEventLoopDelay, type IntervalHistogram } from "node:perf_hooks";
import pidusage from "pidusage";
import type { NodeSample } from "@sala/protocol";
import type { Logger } from "../logger.js";
import type { SampleStore } from "../stores/types.js";
import { NodeMetrics } from "./metrics.js";

const LOOP_RESOLUTION_MS = 10;

export interface SamplerDeps {
  nodeId: string;
  metrics: NodeMetrics;
  samples: SampleStore;
  live: { sockets(): number; rooms(): number };
  /** Sends a sample to every subscribed viewer in the cluster. */
  publish(sample: NodeSample): void;
  windowSec: number;
  nodeTtlMs: number;
  logger: Logger;
}

/**
 * Samples this node every second (pidusage for CPU and RSS, V8 heap, event-loop delay, sockets,
 * rooms, message rates), keeps the last window of samples in shared state for viewers who arrive
 * later, and publishes each sample to the /memory viewers of every node.
 */
export class Sampler {
  private timer: NodeJS.Timeout | null = null;
  private readonly loopDelay: IntervalHistogram = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  private last = { at: Date.now(), messages: 0, deliveries: 0 };

  constructor(private readonly deps: SamplerDeps) {}

  start(intervalMs = 1000): void {
    this.loopDelay.enable();
    this.timer = setInterval(() => void this.tick(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.loopDelay.disable();
  }

  async sample(now = Date.now()): Promise<NodeSample> {
    const { metrics, live, nodeId } = this.deps;
    const usage = await pidusage(process.pid);
    const messages = await NodeMetrics.total(metrics.messagesAccepted);
    const deliveries = await NodeMetrics.total(metrics.deliveries);
    const seconds = Math.max(0.001, (now - this.last.at) / 1000);
    // The histogram measures timer lateness plus its own resolution: take the resolution off.
    const toMs = (nanoseconds: number) => Math.max(0, Math.round((nanoseconds - LOOP_RESOLUTION_MS * 1e6) / 1e4) / 100);
    const sample: NodeSample = {
      node: nodeId,
      ts: now,
      rssBytes: usage.memory,
      heapUsedBytes: process.memoryUsage().heapUsed,
      cpuPercent: Math.round(usage.cpu * 10) / 10,
      loopDelayP50Ms: toMs(this.loopDelay.percentile(50)),
      loopDelayP99Ms: toMs(this.loopDelay.percentile(99)),
      loopDelayMaxMs: toMs(this.loopDelay.max),
      sockets: live.sockets(),
      rooms: live.rooms(),
      messagesInPerSec: Math.round(((messages - this.last.messages) / seconds) * 10) / 10,
      deliveriesOutPerSec: Math.round(((deliveries - this.last.deliveries) / seconds) * 10) / 10,
    };
    this.loopDelay.reset();
    this.last = { at: now, messages, deliveries };
    return sample;
  }

  private async tick(): Promise<void> {
    try {
      const sample = await this.sample();
      this.deps.publish(sample);
      await this.deps.samples.record(sample, this.deps.windowSec, this.deps.nodeTtlMs);
    } catch (error) {
      this.deps.logger.debug({ event: "sample_failed", err: (error as Error).message }, "could not record a metrics sample");
    }
  }
}
