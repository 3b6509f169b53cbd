/**
 * Interleaved rounds. This machine's speed drifts by 10–30 % within minutes (other tenants, the
 * host's scheduling), so measuring Sala for minutes and the baseline for minutes afterwards puts
 * the drift into their ratio. The chat phases therefore run every system once per round, in
 * alternating order, and each step's rounds are combined here: the median for CPU figures (a
 * disturbed round does not move it), pooled samples for latencies, sums for counts.
 */
import { Samples } from "../stats.js";
import type { ChatStepResult } from "../scenarios/room-chat.js";
import type { ChatRow } from "./phases.js";

export function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** One row per (system, rate), in the order the first round produced them. */
export function combineRounds(rounds: ChatRow[][]): ChatRow[] {
  const groups = new Map<string, ChatRow[]>();
  for (const row of rounds.flat()) {
    const key = `${row.system}\u0000${row.messagesPerSec}`;
    const group = groups.get(key);
    if (group) group.push(row);
    else groups.set(key, [row]);
  }
  return [...groups.values()].map(combineStep);
}

function combineStep(rows: ChatRow[]): ChatRow {
  const first = rows[0]!;
  if (rows.length === 1) return first;
  const result = poolResults(rows.map((row) => row.result));
  return {
    system: first.system,
    messagesPerSec: first.messagesPerSec,
    deliveriesPerSec: result.deliveries / result.seconds,
    cpuUsPerDelivery: median(rows.map((row) => row.cpuUsPerDelivery)),
    cpuUsPerMessage: median(rows.map((row) => row.cpuUsPerMessage)),
    switchesPerMessage: median(rows.map((row) => row.switchesPerMessage)),
    redisUsPerMessage: first.redisUsPerMessage === null ? null : median(rows.map((row) => row.redisUsPerMessage ?? Number.NaN)),
    serverCpuPercent: median(rows.map((row) => row.serverCpuPercent)),
    generatorCpuPercent: median(rows.map((row) => row.generatorCpuPercent)),
    result,
    rounds: rows.flatMap((row) => row.rounds),
  };
}

function poolResults(results: ChatStepResult[]): ChatStepResult {
  const ackRtt = new Samples();
  const deliveryLatency = new Samples();
  const errors: Record<string, number> = {};
  const sum = (pick: (r: ChatStepResult) => number) => results.reduce((total, r) => total + pick(r), 0);
  for (const r of results) {
    ackRtt.addAll(r.ackRtt);
    deliveryLatency.addAll(r.deliveryLatency);
    for (const [code, count] of Object.entries(r.errors)) errors[code] = (errors[code] ?? 0) + count;
  }
  return {
    messagesPerSec: results[0]!.messagesPerSec,
    seconds: sum((r) => r.seconds),
    sent: sum((r) => r.sent),
    acked: sum((r) => r.acked),
    failed: sum((r) => r.failed),
    errors,
    deliveries: sum((r) => r.deliveries),
    expected: sum((r) => r.expected),
    lost: sum((r) => r.lost),
    duplicates: sum((r) => r.duplicates),
    ackRtt,
    deliveryLatency,
  };
}

/** How many rounds the rows hold (1 for a single run). */
export function roundCount(rows: ChatRow[]): number {
  return rows.length === 0 ? 0 : Math.min(...rows.map((row) => row.rounds.length));
}
