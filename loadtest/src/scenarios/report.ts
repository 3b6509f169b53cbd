/** One-line summaries of scenario results, shared by the driver CLI and the benchmark. */
import { round, type Samples } from "../stats.js";
import type { ChatStepResult } from "./room-chat.js";

export function ms(samples: Samples, p: number): string {
  return samples.count === 0 ? "–" : `${round(samples.percentile(p))}`;
}

export function chatSummary(r: ChatStepResult): string {
  const errors = Object.entries(r.errors).map(([code, n]) => `${code}×${n}`).join(" ");
  return [
    `${r.messagesPerSec} msg/s for ${round(r.seconds)} s: sent ${r.sent}, acked ${r.acked}, failed ${r.failed}${errors ? ` (${errors})` : ""}`,
    `deliveries ${r.deliveries}/${r.expected} (${round(r.deliveries / r.seconds, 0)}/s), lost ${r.lost}, duplicated ${r.duplicates}`,
    `ack ms p50 ${ms(r.ackRtt, 50)} p95 ${ms(r.ackRtt, 95)} p99 ${ms(r.ackRtt, 99)}; delivery ms p50 ${ms(r.deliveryLatency, 50)} p99 ${ms(r.deliveryLatency, 99)}`,
  ].join(" · ");
}
