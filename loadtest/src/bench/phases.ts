/**
 * The benchmark's phases, each measuring one scenario on one system at fixed load steps and
 * returning plain rows for the report. CPU is the servers' (and Redis') own, read around each step.
 */
import { monitorEventLoopDelay } from "node:perf_hooks";
import { lobbyChurn } from "../scenarios/lobby-churn.js";
import { loginStorm } from "../scenarios/login-storm.js";
import { IdleSockets } from "../scenarios/idle-sockets.js";
import { RoomChat, type ChatStepResult } from "../scenarios/room-chat.js";
import { WhisperStorm } from "../scenarios/whisper-storm.js";
import { MetricsWatch } from "../metrics-watch.js";
import type { ProgressLine } from "../driver/progress.js";
import type { LoadUser, Target } from "../target.js";
import { contextSwitches, CpuMeter, rssBytes } from "./machine.js";
import { serverPids, type System } from "./systems.js";

export interface ChatRow {
  system: string;
  messagesPerSec: number;
  deliveriesPerSec: number;
  /** Server + Redis CPU per delivery (µs). */
  cpuUsPerDelivery: number;
  /** Server + Redis CPU per accepted message, i.e. per broadcast (µs). */
  cpuUsPerMessage: number;
  /** Redis' part of cpuUsPerMessage (µs); null for a system without Redis (bare, 1 node). */
  redisUsPerMessage: number | null;
  /** The servers' and Redis' context switches per accepted message (how often they slept and woke). */
  switchesPerMessage: number;
  /** The servers' and Redis' CPU over the step, % of one core (on 2 cores they share core 0: near 100, they are saturated and queue). */
  serverCpuPercent: number;
  /** The load generator's own CPU over the step, % of its core (near 100: the numbers are the generator's). */
  generatorCpuPercent: number;
  result: ChatStepResult;
  /** The same step in each interleaved round (one entry for a single run; rounds.ts combines them). */
  rounds: RoundFigures[];
}

/** What one round of a step measured, kept beside the combined row so per-round spread can be shown. */
export interface RoundFigures {
  cpuUsPerDelivery: number;
  cpuUsPerMessage: number;
  redisUsPerMessage: number | null;
  switchesPerMessage: number;
  acked: number;
  deliveries: number;
  ackP99: number;
  deliveryP99: number;
  /**
   * The longest event-loop stall during the step (ms): the load generator's own, and the Sala
   * nodes' (from their per-second samples; null for the bare baseline, which has none). A stall
   * on either side delays every message sent meanwhile, and so sets a latency tail by itself.
   */
  driverStallMs: number;
  serverStallMs: number | null;
}

/** The generator's event-loop delay is sampled this often (ms) while a step runs. */
const STALL_RESOLUTION_MS = 10;

/**
 * The room chat opened on one system, run at each step as often as the rounds ask, with CPU
 * measured around every step. It stays open between runs: opening a 1,000-member room (every
 * join announced to every member) costs more than a round.
 */
export class ChatPhase {
  private warm = false;
  /** Each step's figures with its time window, until the nodes' samples for it have arrived. */
  private readonly awaitingSamples: Array<{ figures: RoundFigures; from: number; to: number }> = [];

  private constructor(
    private readonly system: System,
    private readonly chat: RoomChat,
    private readonly progress: ProgressLine,
    private readonly nodeSamples: MetricsWatch | null,
  ) {}

  /** `nodeSamples`: an admin's feed of the Sala nodes' per-second samples (their stalls). */
  static async open(
    system: System,
    users: LoadUser[],
    rooms: number,
    roomPrefix: string,
    progress: ProgressLine,
    nodeSamples: MetricsWatch | null = null,
  ): Promise<ChatPhase> {
    progress.phase(`${system.label}: ${users.length} users in ${rooms} room(s)…`);
    return new ChatPhase(system, await RoomChat.open(system.target, users, rooms, roomPrefix), progress, nodeSamples);
  }

  async run(steps: number[], seconds: number): Promise<ChatRow[]> {
    const { system, chat, progress } = this;
    // Warm-up: JIT and adapter subscriptions the first time, and after other systems' turns.
    await chat.step(steps[0]!, this.warm ? 1 : 2);
    this.warm = true;
    const rows: ChatRow[] = [];
    for (const rate of steps) {
      const nodes = new CpuMeter(system.nodePids);
      const redis = system.redisPid === null ? null : new CpuMeter([system.redisPid]);
      await nodes.start();
      await redis?.start();
      const switchesStart = await contextSwitches(serverPids(system));
      const generatorStart = process.cpuUsage();
      const driverLoop = monitorEventLoopDelay({ resolution: STALL_RESOLUTION_MS });
      driverLoop.enable();
      const wallStart = Date.now();
      const result = await chat.step(rate, seconds, (p) =>
        progress.update(`${system.label} · ${rate} msg/s · ${Math.round(p.elapsedSec)} s · acked ${p.acked} · deliveries ${p.deliveries} · ack p99 ${p.ackP99} ms`),
      );
      const redisMs = redis ? await redis.stop() : null;
      const cpuMs = (await nodes.stop()) + (redisMs ?? 0);
      const switchesPerMessage = ((await contextSwitches(serverPids(system))) - switchesStart) / Math.max(1, result.acked);
      const generator = process.cpuUsage(generatorStart);
      driverLoop.disable();
      const wallEnd = Date.now();
      const wallMs = wallEnd - wallStart;
      const cpuUsPerDelivery = (cpuMs * 1000) / Math.max(1, result.deliveries);
      const cpuUsPerMessage = (cpuMs * 1000) / Math.max(1, result.acked);
      const redisUsPerMessage = redisMs === null ? null : (redisMs * 1000) / Math.max(1, result.acked);
      const figures: RoundFigures = {
        cpuUsPerDelivery,
        cpuUsPerMessage,
        redisUsPerMessage,
        switchesPerMessage,
        acked: result.acked,
        deliveries: result.deliveries,
        ackP99: result.ackRtt.percentile(99),
        deliveryP99: result.deliveryLatency.percentile(99),
        // The histogram holds whole timer intervals: the delay is what exceeds the resolution.
        driverStallMs: Math.max(0, driverLoop.max / 1e6 - STALL_RESOLUTION_MS),
        serverStallMs: null,
      };
      if (this.nodeSamples && system.nodeIds.length > 0) this.awaitingSamples.push({ figures, from: wallStart, to: wallEnd });
      rows.push({
        system: system.label,
        messagesPerSec: rate,
        deliveriesPerSec: result.deliveries / result.seconds,
        cpuUsPerDelivery,
        cpuUsPerMessage,
        redisUsPerMessage,
        switchesPerMessage,
        serverCpuPercent: (cpuMs / wallMs) * 100,
        generatorCpuPercent: ((generator.user + generator.system) / 1000 / wallMs) * 100,
        result,
        rounds: [figures],
      });
    }
    progress.done();
    return rows;
  }

  /**
   * Fills in the Sala nodes' longest stall of every step run so far. A node's sample at time t
   * covers the second before t, so the samples of a step are those up to a second after its end;
   * call this a second or more after the last step.
   */
  readNodeStalls(): void {
    const samples = this.nodeSamples;
    if (!samples) return;
    for (const { figures, from, to } of this.awaitingSamples.splice(0)) {
      const stalls = this.system.nodeIds.flatMap((node) => samples.between(from + 1, to + 1000, node).map((s) => s.loopDelayMaxMs));
      figures.serverStallMs = stalls.length > 0 ? Math.max(...stalls) : null;
    }
  }

  close(): Promise<void> {
    return this.chat.close();
  }
}

export interface LoginRow {
  logins: number;
  perSec: number;
  errors: number;
  latencyP50: number;
  latencyP99: number;
  /** Per-second event-loop delay p99 of the node during the storm: the worst second, and the median second. */
  loopP99Max: number;
  loopP99Median: number;
}

/** Logs `names` in through the first node of `system`, with an admin watching its event loop. */
export async function loginPhase(system: System, names: string[], admin: LoadUser, concurrency: number, progress: ProgressLine): Promise<{ row: LoginRow; users: LoadUser[] }> {
  progress.phase(`${system.label}: login storm of ${names.length} users, ${concurrency} at a time…`);
  const target: Target = { ...system.target, urls: [system.target.urls[0]!] };
  const watch = await MetricsWatch.open(target, admin);
  const start = Date.now();
  const { result, users } = await loginStorm(target, names, concurrency);
  const end = Date.now();
  await new Promise((resolve) => setTimeout(resolve, 1500)); // the sample covering the last second
  await watch.close();
  const lags = watch.between(start + 1000, end + 1000, "node-1").map((s) => s.loopDelayP99Ms).sort((a, b) => a - b);
  return {
    users,
    row: {
      logins: names.length,
      perSec: result.perSec,
      errors: result.errors,
      latencyP50: result.latency.percentile(50),
      latencyP99: result.latency.percentile(99),
      loopP99Max: lags.at(-1) ?? Number.NaN,
      loopP99Median: lags[Math.floor(lags.length / 2)] ?? Number.NaN,
    },
  };
}

export interface IdleRow {
  system: string;
  sockets: number;
  /** Handshakes of this step: how many, how fast. */
  opened: number;
  seconds: number;
  perSec: number;
  errors: number;
  rssMb: number;
  /** (RSS now − RSS with no sockets) / sockets, over the node processes. */
  kbPerSocket: number;
}

/** Opens idle authenticated sockets up to each count in `steps`, measuring handshakes and memory. */
export async function idlePhase(system: System, users: LoadUser[], steps: number[], progress: ProgressLine): Promise<IdleRow[]> {
  progress.phase(`${system.label}: idle sockets up to ${steps.at(-1)}…`);
  const rss = async () => (await Promise.all(system.nodePids.map(rssBytes))).reduce((a, b) => a + b, 0);
  const settle = () => new Promise((resolve) => setTimeout(resolve, 3000));
  const sockets = new IdleSockets();
  const rows: IdleRow[] = [];
  try {
    await settle();
    const base = await rss();
    for (const count of steps) {
      const handshakes = await sockets.open(system.target, users, count - sockets.clients.length);
      await settle(); // let lobby broadcasts and the allocator quiet down before reading RSS
      const now = await rss();
      rows.push({
        system: system.label,
        sockets: sockets.clients.length,
        opened: handshakes.count,
        seconds: handshakes.seconds,
        perSec: handshakes.perSec,
        errors: handshakes.errors,
        rssMb: now / 2 ** 20,
        kbPerSocket: (now - base) / 1024 / Math.max(1, sockets.clients.length),
      });
      progress.update(`${system.label}: ${sockets.clients.length} sockets, ${Math.round(handshakes.perSec)} handshakes/s`);
    }
  } finally {
    progress.done();
    await sockets.close();
  }
  return rows;
}

export interface RateRow {
  system: string;
  perSec: number;
  errors: number;
  p50: number;
  p99: number;
  extra: string;
}

export async function churnPhase(system: System, users: LoadUser[], seconds: number, progress: ProgressLine): Promise<RateRow> {
  progress.phase(`${system.label}: lobby churn for ${seconds} s…`);
  const r = await lobbyChurn(system.target, users, seconds, 50);
  return { system: system.label, perSec: r.perSec, errors: r.errors, p50: r.snapshotLatency.percentile(50), p99: r.snapshotLatency.percentile(99), extra: `${r.cycles} cycles` };
}

export async function whisperPhase(system: System, users: LoadUser[], rate: number, seconds: number, progress: ProgressLine): Promise<RateRow> {
  progress.phase(`${system.label}: whisper storm, ${rate}/s…`);
  const storm = await WhisperStorm.open(system.target, users);
  try {
    await storm.run(Math.min(rate, 200), 1); // warm-up
    const meter = new CpuMeter(serverPids(system));
    await meter.start();
    const r = await storm.run(rate, seconds);
    const cpuMs = await meter.stop();
    return {
      system: system.label,
      perSec: r.received / r.seconds,
      errors: r.failed + r.lost + r.duplicates,
      p50: r.deliveryLatency.percentile(50),
      p99: r.deliveryLatency.percentile(99),
      extra: `ack p99 ${r.ackRtt.percentile(99)} ms · ${((cpuMs * 1000) / Math.max(1, r.received)).toFixed(0)} µs CPU/whisper · lost ${r.lost}, dup ${r.duplicates}`,
    };
  } finally {
    await storm.close();
  }
}
