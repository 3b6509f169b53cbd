/** Everything one benchmark run measured, and the targets of issue 6 judged against it. */
import type { ChatRow, IdleRow, LoginRow, RateRow, RoundFigures } from "./phases.js";
import { roundCount } from "./rounds.js";

export interface BenchResults {
  date: string;
  machine: string;
  /** Which cores the processes were pinned to (cores.ts); null when taskset failed. */
  pinning: string | null;
  quick: boolean;
  users: number;
  login: LoginRow;
  /** argon2id verifications per second on all cores with nothing else running (argon2-ceiling.ts). */
  argon2: { perSec: number; cores: number };
  registrationsPerSec: number;
  bigRoom: { members: number; rows: ChatRow[] };
  smallRooms: { rooms: number; members: number; rows: ChatRow[] };
  idle: IdleRow[];
  churn: RateRow[];
  whisper: RateRow[];
}

export interface Verdict {
  target: string;
  figure: string;
  met: boolean;
}

/** The issue's latency targets: a verdict's threshold, and the line bare's p99 is compared with. */
const DELIVERY_P99_TARGET_MS = 100;
const ACK_P99_TARGET_MS = 25;

const SALA_2 = "Sala, 2 nodes";
const BARE_1 = "bare, 1 node";
const BARE_2 = "bare, 2 nodes + adapter";

/** Server CPU per unit over steps: total µs ÷ total units. */
function weightedCpu(steps: Array<Pick<RoundFigures, "cpuUsPerDelivery" | "cpuUsPerMessage" | "acked" | "deliveries">>, unit: "delivery" | "message"): number {
  const cpu = steps.reduce((sum, f) => sum + (unit === "delivery" ? f.cpuUsPerDelivery * f.deliveries : f.cpuUsPerMessage * f.acked), 0);
  const units = steps.reduce((sum, f) => sum + (unit === "delivery" ? f.deliveries : f.acked), 0);
  return cpu / Math.max(1, units);
}

/** Server CPU per unit over all steps of one system (each step's median round). */
export function cpuPer(rows: ChatRow[], system: string, unit: "delivery" | "message"): number {
  const mine = rows.filter((row) => row.system === system);
  return weightedCpu(
    mine.map((row) => ({ cpuUsPerDelivery: row.cpuUsPerDelivery, cpuUsPerMessage: row.cpuUsPerMessage, acked: row.result.acked, deliveries: row.result.deliveries })),
    unit,
  );
}

/** Server CPU per unit of one system in round `i`, over all its steps. */
export function cpuPerInRound(rows: ChatRow[], system: string, unit: "delivery" | "message", i: number): number {
  return weightedCpu(
    rows.filter((row) => row.system === system).flatMap((row) => (row.rounds[i] ? [row.rounds[i]] : [])),
    unit,
  );
}

const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : "–");

/** "; per round 2.31 / 2.52 / 2.40×" when the rows hold interleaved rounds, so the spread shows beside the median. */
function ratioPerRound(rows: ChatRow[], unit: "delivery" | "message"): string {
  const rounds = roundCount(rows);
  if (rounds < 2) return "";
  const ratios = Array.from({ length: rounds }, (_, i) => cpuPerInRound(rows, SALA_2, unit, i) / cpuPerInRound(rows, BARE_1, unit, i));
  return ` (medians of ${rounds} interleaved rounds; per round ${ratios.map((x) => fmt(x, 2)).join(" / ")}×)`;
}

/**
 * What bare Socket.IO on the same two nodes with the same Redis adapter costs in the same run: the
 * part of the ratio that is the adapter's, not Sala's.
 */
function adapterAlone(rows: ChatRow[], unit: "delivery" | "message"): string {
  if (!rows.some((row) => row.system === BARE_2)) return "";
  const bare2 = cpuPer(rows, BARE_2, unit);
  return `; bare on 2 nodes with the adapter: ${fmt(bare2 / cpuPer(rows, BARE_1, unit), 2)}× bare single node, Sala ${fmt(cpuPer(rows, SALA_2, unit) / bare2, 2)}× that`;
}

/**
 * The bare baselines' p99 at the same step as Sala's, and whether they too are above the target:
 * a relay with no auth, validation or persistence that misses a latency target on this machine
 * shows the machine's floor, not Sala's cost.
 */
function bareP99AtStep(rows: ChatRow[], rate: number, p99: (row: ChatRow) => number, targetMs: number): string {
  const bare = [
    ["1 node", BARE_1],
    ["2 nodes with the adapter", BARE_2],
  ].flatMap(([label, system]) => {
    const step = rows.find((row) => row.system === system && row.messagesPerSec === rate);
    return step ? [{ label, ms: p99(step) }] : [];
  });
  if (bare.length === 0) return "";
  const above = bare.some((b) => b.ms > targetMs) ? `; bare above ${targetMs} ms as well` : "";
  return `; bare at the same step: ${bare.map((b) => `${b.label} ${fmt(b.ms, 0)} ms`).join(", ")}${above}`;
}

/** "12 / – / 9" (ms): one figure per round, a dash where there is none. */
function perRoundMs(values: Array<number | null>): string {
  return values.map((x) => (x === null ? "–" : fmt(x, 0))).join(" / ");
}

/**
 * " (all rounds' samples; per round 40 / 56 / 61 ms; longest event-loop stall per round: Sala's nodes 12 / 45 / 9 ms,
 * the driver 8 / 9 / 10 ms)" for a row of interleaved rounds: a stall on either side sets a tail by itself.
 */
function p99PerRound(rounds: RoundFigures[], p99: (round: RoundFigures) => number): string {
  if (rounds.length < 2) return "";
  const stalls = `Sala's nodes ${perRoundMs(rounds.map((x) => x.serverStallMs))} ms, the driver ${perRoundMs(rounds.map((x) => x.driverStallMs))} ms`;
  return ` (all rounds' samples; per round ${perRoundMs(rounds.map(p99))} ms; longest event-loop stall per round: ${stalls})`;
}

export function verdicts(r: BenchResults): Verdict[] {
  const v: Verdict[] = [];
  if (r.bigRoom.rows.length > 0) {
    const bigRatio = cpuPer(r.bigRoom.rows, SALA_2, "delivery") / cpuPer(r.bigRoom.rows, BARE_1, "delivery");
    v.push({
      target: `CPU per delivery, ${r.bigRoom.members}-member room, Sala on 2 nodes ≤ 1.4× bare single node`,
      figure: `${fmt(cpuPer(r.bigRoom.rows, SALA_2, "delivery"))} µs vs ${fmt(cpuPer(r.bigRoom.rows, BARE_1, "delivery"))} µs = ${fmt(bigRatio, 2)}×${ratioPerRound(r.bigRoom.rows, "delivery")}${adapterAlone(r.bigRoom.rows, "delivery")}`,
      met: bigRatio <= 1.4,
    });
  }
  const top = r.bigRoom.rows.filter((row) => row.system === SALA_2).at(-1);
  if (top) {
    const p99 = top.result.deliveryLatency.percentile(99);
    v.push({
      target: `p99 delivery ≤ ${DELIVERY_P99_TARGET_MS} ms at 50k deliveries/s (Sala, 2 nodes)`,
      figure: `${fmt(p99, 0)} ms at ${fmt(top.deliveriesPerSec / 1000)}k deliveries/s${p99PerRound(top.rounds, (x) => x.deliveryP99)}${bareP99AtStep(r.bigRoom.rows, top.messagesPerSec, (row) => row.result.deliveryLatency.percentile(99), DELIVERY_P99_TARGET_MS)}`,
      met: p99 <= DELIVERY_P99_TARGET_MS && top.deliveriesPerSec >= 50_000 * 0.95,
    });
  }
  if (r.smallRooms.rows.length > 0) {
    const smallRatio = cpuPer(r.smallRooms.rows, SALA_2, "message") / cpuPer(r.smallRooms.rows, BARE_1, "message");
    v.push({
      target: `CPU per broadcast, ${r.smallRooms.members}-member rooms, Sala on 2 nodes ≤ 2.5× bare single node`,
      figure: `${fmt(cpuPer(r.smallRooms.rows, SALA_2, "message"), 0)} µs vs ${fmt(cpuPer(r.smallRooms.rows, BARE_1, "message"), 0)} µs = ${fmt(smallRatio, 2)}×${ratioPerRound(r.smallRooms.rows, "message")}${adapterAlone(r.smallRooms.rows, "message")}`,
      met: smallRatio <= 2.5,
    });
  }
  const idleTop = r.idle.filter((row) => row.system.startsWith("Sala")).at(-1);
  if (idleTop) {
    v.push({
      target: "≤ 20 KB RSS per idle authenticated socket at 10k sockets (Sala, 1 node)",
      figure: `${fmt(idleTop.kbPerSocket)} KB at ${idleTop.sockets} sockets`,
      met: idleTop.kbPerSocket <= 20 && idleTop.sockets >= 10_000,
    });
    const salaIdle = r.idle.filter((row) => row.system.startsWith("Sala"));
    const seconds = salaIdle.reduce((sum, row) => sum + row.seconds, 0);
    const errors = salaIdle.reduce((sum, row) => sum + row.errors, 0);
    v.push({
      target: "10k authenticated handshakes in ≤ 10 s with zero errors",
      figure: `${idleTop.sockets} in ${fmt(seconds)} s (${fmt(idleTop.sockets / seconds, 0)}/s), ${errors} errors`,
      met: seconds <= 10 && errors === 0 && idleTop.sockets >= 10_000,
    });
  }
  const ackRow = r.smallRooms.rows.filter((row) => row.system === SALA_2).at(-1);
  if (ackRow) {
    const p99 = ackRow.result.ackRtt.percentile(99);
    v.push({
      target: `send→ack p99 ≤ ${ACK_P99_TARGET_MS} ms at 2k messages/s (Sala, 2 nodes)`,
      figure: `${fmt(p99, 0)} ms at ${fmt(ackRow.result.acked / ackRow.result.seconds, 0)} msg/s${p99PerRound(ackRow.rounds, (x) => x.ackP99)}${bareP99AtStep(r.smallRooms.rows, ackRow.messagesPerSec, (row) => row.result.ackRtt.percentile(99), ACK_P99_TARGET_MS)}`,
      met: p99 <= ACK_P99_TARGET_MS && ackRow.messagesPerSec >= 2000,
    });
  }
  v.push({
    target: "≥ 70 password logins/s with event-loop lag p99 ≤ 20 ms",
    figure: `${fmt(r.login.perSec)} logins/s, loop p99 worst second ${fmt(r.login.loopP99Max)} ms (median second ${fmt(r.login.loopP99Median)} ms); argon2id alone: ${fmt(r.argon2.perSec)}/s on ${r.argon2.cores} cores`,
    met: r.login.perSec >= 70 && r.login.loopP99Max <= 20 && r.login.errors === 0,
  });
  const salaRows = [...r.bigRoom.rows, ...r.smallRooms.rows].filter((row) => row.system.startsWith("Sala"));
  if (salaRows.length > 0) {
    const lost = salaRows.reduce((sum, row) => sum + row.result.lost, 0);
    const dup = salaRows.reduce((sum, row) => sum + row.result.duplicates, 0);
    const failed = salaRows.reduce((sum, row) => sum + row.result.failed, 0);
    const delivered = salaRows.reduce((sum, row) => sum + row.result.deliveries, 0);
    v.push({
      target: "zero lost and zero duplicated deliveries in steady state (every Sala chat step)",
      figure: `${delivered} deliveries: ${lost} lost, ${dup} duplicated, ${failed} failed sends`,
      met: lost === 0 && dup === 0 && failed === 0,
    });
  }
  return v;
}
