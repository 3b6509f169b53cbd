/**
 * `npm run bench -- sockets-100k [--quick]`: 100,000 concurrent authenticated sockets of distinct
 * users on this machine (issue 19, requirement 5; quick: 10,000). One redis-server and enough Sala
 * nodes that each holds under 20,000 sockets (this machine's open files per process), each on its
 * own port so that the ephemeral port range (about 28,000 per destination) suffices; the sockets
 * come from generator processes (socket-generator.ts, under 20,000 each) and, for 1,000 of them,
 * from this process as full chat clients (room-fanout.ts). Sessions are minted in the store
 * (minted-sessions.ts); every socket passes the real handshake (cookie, Origin, session lookup).
 *
 * Measured: the time to connect them all (and the errors), the nodes' RSS per socket (all nodes'
 * RSS after, less before, over the sockets), Redis memory per online user (used_memory, after
 * less before), the nodes' and Redis' CPU at rest once connected, and the delivery latency of
 * messages into a room of 1,000 of those sockets while they all stay connected. When not every
 * socket connects before the deadline, the figures are for those that did, and it says so.
 * Prints markdown; writes nothing.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { sleep } from "@sala/cluster/processes";
import type { ProgressLine } from "../driver/progress.js";
import { Samples } from "../stats.js";
import { GeneratorPool, SOCKETS_PER_GENERATOR } from "./generator-pool.js";
import { CpuMeter, machineDescription, rssBytes } from "./machine.js";
import { mintUsers, repairIndexes } from "./minted-sessions.js";
import { RoomFanout, type FanoutResult } from "./room-fanout.js";
import { lobbySendsPerSec, ScaleCluster } from "./scale-cluster.js";
import { ORIGIN } from "./systems.js";

export interface Sockets100kSize {
  sockets: number;
  nodes: number;
  generators: number;
  /** Of the sockets, those that join the big room (full clients in this process). */
  roomMembers: number;
  senders: number;
  messagesPerSec: number;
  chatSeconds: number;
  restSec: number;
  /** No new socket starts after this long (the figures are then for those connected). */
  connectDeadlineSec: number;
  nodeHeapMb: number;
}

export const SOCKETS_100K_FULL: Sockets100kSize = {
  sockets: 100_000,
  nodes: 8,
  generators: 8,
  roomMembers: 1000,
  senders: 5,
  messagesPerSec: 20,
  chatSeconds: 20,
  restSec: 20,
  connectDeadlineSec: 600,
  nodeHeapMb: 4096,
};
export const SOCKETS_100K_QUICK: Sockets100kSize = { ...SOCKETS_100K_FULL, sockets: 10_000, nodes: 2, generators: 2, chatSeconds: 5, restSec: 20, connectDeadlineSec: 300 };

/** Handshakes in flight per generator. */
const CONCURRENCY = 32;
/** After the joins, before the chat's warm-up. */
const WARMUP_MS = 5000;
/** After the connects: the last lobby and presence work done, before memory is read. */
const SETTLE_MS = 10_000;

interface Outcome {
  size: Sockets100kSize;
  git: string;
  mintSec: number;
  repairSec: number;
  connectSec: number;
  /** CPU the nodes and Redis spent while the sockets came online. */
  connectNodeMs: number;
  connectRedisMs: number;
  attempted: number;
  connected: number;
  errors: number;
  errorSamples: string[];
  stillOpen: number;
  nodesAlive: number;
  connectMs: Samples;
  lobbyBytes: Samples;
  rssBeforeBytes: number;
  rssAfterBytes: number;
  /** At the end of the rest period: the connect burst's garbage collected (V8 shrinks its heap 20–40 s after). */
  rssRestedBytes: number;
  redisEmptyBytes: number;
  redisMintedBytes: number;
  redisOnlineBytes: number;
  restNodeMs: number;
  restRedisMs: number;
  restWallMs: number;
  /** Per idle socket: received while the sockets came online (snapshot included), and per second at rest. */
  bringUp: { frames: number; bytes: number };
  atRest: { framesPerSec: number; bytesPerSec: number; sockets: number };
  /** The nodes' warnings and errors, by event. */
  warnings: string[];
  fanout: FanoutResult | null;
  /** What went wrong in the room step, if anything. */
  fanoutNote: string | null;
}

async function gitState(): Promise<string> {
  const run = promisify(execFile);
  try {
    const head = (await run("git", ["rev-parse", "--short=12", "HEAD"])).stdout.trim();
    const dirty = (await run("git", ["status", "--porcelain", "--untracked-files=no"])).stdout.trim() !== "";
    return `${head}${dirty ? " (working tree with uncommitted changes)" : " (clean)"}`;
  } catch {
    return "unknown (not a git checkout)";
  }
}

/** "message × count, ..." for a list of error messages. */
function tally(messages: string[]): string {
  const counts = new Map<string, number>();
  for (const message of messages) counts.set(message, (counts.get(message) ?? 0) + 1);
  return [...counts].map(([message, count]) => `${message} × ${count}`).join(", ");
}

/**
 * `count` distinct names whose alphabetical order has nothing to do with the order they connect
 * in, as with real users: name i is `k<(i × 7919) mod count>` (7919 is a prime, so the map is a
 * permutation when it shares no factor with `count`; otherwise one more step finds a free number).
 * Names numbered in connect order would each come online near the alphabetical start: every one
 * would land on the lobby's first page, whose changes go to every lobby socket.
 */
function userNames(count: number): string[] {
  const taken = new Set<number>();
  return Array.from({ length: count }, (_, i) => {
    let n = (i * 7919) % count;
    while (taken.has(n)) n = (n + 1) % count;
    taken.add(n);
    return `k${n}`;
  });
}

async function nodesRss(cluster: ScaleCluster): Promise<number> {
  let total = 0;
  for (const pid of cluster.nodePids) total += await rssBytes(pid);
  return total;
}

/** `cpuProfileDir`: the nodes run with `--cpu-prof` and write their profiles there when they stop. */
export async function sockets100kBench(size: Sockets100kSize, progress: ProgressLine, cpuProfileDir?: string): Promise<string> {
  const perNode = Math.ceil(size.sockets / size.nodes);
  const perGenerator = Math.ceil((size.sockets - size.roomMembers) / size.generators);
  if (perNode >= 19_000 || perGenerator > SOCKETS_PER_GENERATOR) throw new Error(`${size.sockets} sockets need more nodes or generators (${perNode} per node, ${perGenerator} per generator)`);
  const git = await gitState();
  progress.phase(`starting Redis and ${size.nodes} Sala nodes (${perNode} sockets each)…`);
  const profiling = cpuProfileDir ? ["--cpu-prof", `--cpu-prof-dir=${cpuProfileDir}`] : [];
  const cluster = await ScaleCluster.start({
    nodes: size.nodes,
    label: "k100",
    env: { SOCKET_EVENTS_PER_SEC: "1000" },
    execArgv: [`--max-old-space-size=${size.nodeHeapMb}`, ...profiling],
    gracefulStop: cpuProfileDir !== undefined,
  });
  const target = { kind: "sala" as const, urls: cluster.urls, origin: ORIGIN };
  let pool: GeneratorPool | null = null;
  let fanout: RoomFanout | null = null;
  try {
    const redisEmptyBytes = await cluster.redisUsedMemory();
    progress.phase(`minting ${size.sockets} accounts and sessions…`);
    let started = Date.now();
    const users = await mintUsers(cluster.sessions, userNames(size.sockets), (n) => progress.update(`minted ${n}`));
    const mintSec = (Date.now() - started) / 1000;
    progress.phase("the operator's repair (claims the accounts' names)…");
    started = Date.now();
    await repairIndexes(cluster.sessions);
    const repairSec = (Date.now() - started) / 1000;
    await sleep(2000);
    const redisMintedBytes = await cluster.redisUsedMemory();
    const rssBeforeBytes = await nodesRss(cluster);
    pool = GeneratorPool.start(size.generators, 3072);

    const lean = users.slice(0, size.sockets - size.roomMembers);
    const members = users.slice(size.sockets - size.roomMembers);
    progress.phase(`connecting ${size.sockets} sockets: ${lean.length} idle over ${size.generators} generators, ${members.length} chat clients here…`);
    const connectCpu = { nodes: new CpuMeter(cluster.nodePids), redis: new CpuMeter([cluster.redisPid]) };
    await connectCpu.nodes.start();
    await connectCpu.redis.start();
    const start = Date.now();
    const deadline = start + size.connectDeadlineSec * 1000;
    let membersConnected = false;
    const ticker = setInterval(() => {
      const { opened, errors } = pool!.progress;
      progress.update(`connected ${opened + (membersConnected ? members.length : 0)}/${size.sockets} · errors ${errors} · ${Math.round((Date.now() - start) / 1000)} s`);
    }, 1000);
    const generated = pool.each((g) => {
      const slice = lean.slice(g * perGenerator, (g + 1) * perGenerator);
      return slice.length === 0 ? null : { cmd: "open", users: slice, urls: cluster.urls, firstIndex: g * perGenerator, origin: ORIGIN, concurrency: CONCURRENCY, attempts: 1, connectTimeoutMs: 30_000, deadline };
    });
    const chat = RoomFanout.connect(target, members, 10, lean.length).then((answer) => {
      membersConnected = true;
      fanout = answer.fanout;
      return answer;
    });
    const [results, chatAnswer] = await Promise.all([generated, chat]).finally(() => clearInterval(ticker));
    const connectSec = (Date.now() - start) / 1000;
    const connectNodeMs = await connectCpu.nodes.stop();
    const connectRedisMs = await connectCpu.redis.stop();
    progress.done();
    const connectMs = new Samples();
    const lobbyBytes = new Samples();
    for (const r of results) {
      for (const ms of r.connectMs) connectMs.add(ms);
      for (const bytes of r.lobbyBytes) if (Number.isFinite(bytes)) lobbyBytes.add(bytes);
    }
    const memberCount = chatAnswer.fanout.members.length;
    const connected = results.reduce((sum, r) => sum + r.opened, 0) + memberCount;
    const errors = results.reduce((sum, r) => sum + r.errors, 0) + chatAnswer.errors;
    const errorSamples = [...chatAnswer.errorSamples, ...results.flatMap((r) => r.errorSamples)].slice(0, 5);

    progress.phase(`${connected} connected in ${connectSec.toFixed(1)} s; settling ${SETTLE_MS / 1000} s, then memory and ${size.restSec} s at rest…`);
    await sleep(SETTLE_MS);
    const stillOpen = (await pool.all({ cmd: "mark" })).reduce((sum, c) => sum + c.open, 0) + memberCount;
    const nodesAlive = cluster.nodes.filter((node) => node.running).length;
    const rssAfterBytes = await nodesRss(cluster);
    const redisOnlineBytes = await cluster.redisUsedMemory();
    const nodeCpu = new CpuMeter(cluster.nodePids);
    const redisCpu = new CpuMeter([cluster.redisPid]);
    await nodeCpu.start();
    await redisCpu.start();
    started = Date.now();
    await pool.all({ cmd: "mark" });
    await sleep(size.restSec * 1000);
    const rest = await pool.all({ cmd: "since-mark" });
    const restWallMs = Date.now() - started;
    const restNodeMs = await nodeCpu.stop();
    const restRedisMs = await redisCpu.stop();
    const rssRestedBytes = await nodesRss(cluster);

    let fanoutResult: FanoutResult | null = null;
    let fanoutNote: string | null = null;
    const room = chatAnswer.fanout;
    try {
      progress.phase(`${memberCount} of the sockets join one room…`);
      const joined = await room.join("k100 big room", (n) => progress.update(`joined ${n}/${memberCount}`));
      if (joined.failed.length > 0) fanoutNote = `${joined.failed.length} chat clients could not join (${tally(joined.failed)})`;
      progress.phase(`${size.senders} senders, ${size.messagesPerSec} msg/s for ${size.chatSeconds} s into the ${joined.members}-member room, ${stillOpen} sockets connected…`);
      // The joins' own fan-out (each join tells every member) drained first, then a short unmeasured
      // warm-up (JIT, the adapter's room channel), so the measured step starts from a quiet room.
      await sleep(WARMUP_MS);
      await room.send(size.senders, size.messagesPerSec, 2);
      fanoutResult = await room.send(size.senders, size.messagesPerSec, size.chatSeconds);
    } catch (error) {
      fanoutNote = `the room step failed: ${(error as Error).message}`;
    }
    return report({
      size,
      git,
      mintSec,
      repairSec,
      connectSec,
      connectNodeMs,
      connectRedisMs,
      attempted: size.sockets,
      connected,
      errors,
      errorSamples,
      stillOpen,
      nodesAlive,
      connectMs,
      lobbyBytes,
      rssBeforeBytes,
      rssAfterBytes,
      rssRestedBytes,
      redisEmptyBytes,
      redisMintedBytes,
      redisOnlineBytes,
      restNodeMs,
      restRedisMs,
      restWallMs,
      bringUp: {
        frames: results.reduce((sum, r) => sum + r.frames, 0) / Math.max(1, connected - memberCount),
        bytes: results.reduce((sum, r) => sum + r.bytes, 0) / Math.max(1, connected - memberCount),
      },
      atRest: {
        sockets: rest.reduce((sum, c) => sum + c.steadySockets, 0),
        framesPerSec: rest.reduce((sum, c) => sum + c.steadyFrames, 0) / Math.max(1, rest.reduce((sum, c) => sum + c.steadySockets, 0)) / (restWallMs / 1000),
        bytesPerSec: rest.reduce((sum, c) => sum + c.steadyBytes, 0) / Math.max(1, rest.reduce((sum, c) => sum + c.steadySockets, 0)) / (restWallMs / 1000),
      },
      warnings: cluster.warningLines(),
      fanout: fanoutResult,
      fanoutNote,
    });
  } finally {
    progress.done();
    await (fanout as RoomFanout | null)?.close();
    await pool?.stop();
    await cluster.stop();
  }
}

const fixed = (n: number, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : "–");

function report(o: Outcome): string {
  const { size } = o;
  const rssPerSocket = (o.rssAfterBytes - o.rssBeforeBytes) / Math.max(1, o.connected);
  const rssRestedPerSocket = (o.rssRestedBytes - o.rssBeforeBytes) / Math.max(1, o.connected);
  const redisPerUser = (o.redisOnlineBytes - o.redisMintedBytes) / Math.max(1, o.connected);
  const restNodePct = (100 * o.restNodeMs) / o.restWallMs;
  const restRedisPct = (100 * o.restRedisMs) / o.restWallMs;
  const f = o.fanout;
  const lines: string[] = [];
  lines.push(`Machine: ${machineDescription()}; not pinned. Code: ${o.git}.`);
  lines.push(
    `${size.nodes} Sala nodes on one redis-server, ${size.generators} generator processes (up to ${Math.ceil((size.sockets - size.roomMembers) / size.generators)} idle sockets each, ${CONCURRENCY} handshakes in flight each) and ${size.roomMembers} chat clients in the bench process, over ${size.nodes} node ports; ` +
      `${size.sockets} distinct users with sessions minted in the store (${fixed(o.mintSec)} s, then the operator's repair ${fixed(o.repairSec)} s), every socket through the real handshake; one attempt per idle socket. LOBBY_SENDS_PER_SEC=${lobbySendsPerSec(size.nodes)} per node (the default 2000 is for a node with a core of its own; here ${size.nodes} share the cores).`,
  );
  if (o.connected < size.sockets) {
    lines.push("", `**Not all connected**: ${o.connected} of ${size.sockets} before the ${size.connectDeadlineSec} s deadline or with errors; the figures below are for the ${o.connected} that did.`);
  }
  lines.push("");
  lines.push("| figure | value | target |");
  lines.push("|---|---|---|");
  lines.push(`| time to connect all | ${fixed(o.connectSec, 1)} s for ${o.connected} sockets (${fixed(o.connected / o.connectSec)}/s), ${o.errors} errors | ≤ 120 s, 0 errors |`);
  lines.push(`| CPU while connecting: nodes · Redis (ms per socket connected) | ${fixed(o.connectNodeMs / 1000)} s · ${fixed(o.connectRedisMs / 1000)} s (${fixed(o.connectNodeMs / Math.max(1, o.connected), 2)} · ${fixed(o.connectRedisMs / Math.max(1, o.connected), 2)}) | |`);
  lines.push(`| handshake (upgrade → connect) p50 / p99 | ${fixed(o.connectMs.percentile(50))} / ${fixed(o.connectMs.percentile(99))} ms | |`);
  lines.push(`| lobby snapshot at connect p50 / max | ${fixed(o.lobbyBytes.percentile(50) / 1024, 1)} / ${fixed(o.lobbyBytes.max() / 1024, 1)} KB | |`);
  lines.push(`| still open ${SETTLE_MS / 1000} s later · nodes alive | ${o.stillOpen} · ${o.nodesAlive}/${size.nodes} | all |`);
  lines.push(`| RSS per socket (all nodes, after − before), ${SETTLE_MS / 1000} s after the last connect | ${fixed(rssPerSocket / 1024, 1)} KB (${fixed(o.rssBeforeBytes / 2 ** 20)} → ${fixed(o.rssAfterBytes / 2 ** 20)} MB) | |`);
  lines.push(`| RSS per socket at the end of the ${size.restSec} s at rest (the connect burst's garbage collected) | ${fixed(rssRestedPerSocket / 1024, 1)} KB (${fixed(o.rssRestedBytes / 2 ** 20)} MB) | ≤ 15 KB |`);
  lines.push(`| Redis memory per online user (used_memory, online − offline) | ${fixed(redisPerUser)} B | |`);
  lines.push(`| Redis memory per user at rest (account + session, minted) | ${fixed((o.redisMintedBytes - o.redisEmptyBytes) / size.sockets)} B | |`);
  lines.push(`| CPU at rest, ${fixed(o.restWallMs / 1000)} s: all nodes · Redis | ${fixed(restNodePct, 1)} % · ${fixed(restRedisPct, 1)} % of a core | |`);
  lines.push(`| received per idle socket while all came online (snapshot included) | ${fixed(o.bringUp.frames)} frames, ${fixed(o.bringUp.bytes / 1024, 1)} KB | |`);
  lines.push(`| received per idle socket at rest (mean of ${o.atRest.sockets}) | ${fixed(o.atRest.framesPerSec, 2)} frames/s, ${fixed(o.atRest.bytesPerSec, 1)} B/s | |`);
  if (f) {
    lines.push(
      `| delivery into a ${f.members}-member room, ${f.senders} senders, ${f.messagesPerSec} msg/s for ${fixed(f.seconds)} s: p50 / p99 / max | ${fixed(f.latency.percentile(50))} / ${fixed(f.latency.percentile(99))} / ${fixed(f.latency.max())} ms | p99 ≤ 100 ms |`,
    );
    lines.push(`| … sent / acked / failed · delivered / expected · lost · dup · ack p50 / p99 | ${f.sent} / ${f.acked} / ${f.failed} ${f.failed > 0 ? ` (${Object.entries(f.errors).map(([code, n]) => `${code} × ${n}`).join(", ")})` : ""} · ${f.deliveries} / ${f.expected} · ${f.lost} · ${f.duplicates} · ${fixed(f.ackRtt.percentile(50))} / ${fixed(f.ackRtt.percentile(99))} ms | |`);
  } else {
    lines.push(`| delivery into a ${size.roomMembers}-member room | not measured: ${o.fanoutNote ?? "no chat clients"} | p99 ≤ 100 ms |`);
  }
  if (f && o.fanoutNote) lines.push("", `Room step: ${o.fanoutNote}.`);
  if (o.errorSamples.length > 0) lines.push("", `Errors seen: ${o.errorSamples.join("; ")}`);
  if (o.warnings.length > 0) lines.push("", "Nodes' warnings and errors (event × count, first message):", "", ...o.warnings.slice(0, 12).map((line) => `- ${line}`));
  lines.push("", "**Targets (issue 19)**", "");
  const verdict = (met: boolean, text: string) => `- ${met ? "met" : "MISSED"}: ${text}`;
  lines.push(verdict(o.connected === size.sockets && o.errors === 0 && o.connectSec <= 120, `${size.sockets} sockets connected in ≤ 120 s with 0 errors — ${o.connected} in ${fixed(o.connectSec, 1)} s, ${o.errors} errors`));
  lines.push(verdict(rssRestedPerSocket <= 15 * 1024, `RSS per socket ≤ 15 KB (at rest) — ${fixed(rssRestedPerSocket / 1024, 1)} KB (${fixed(rssPerSocket / 1024, 1)} KB ${SETTLE_MS / 1000} s after the connects)`));
  lines.push(verdict(f !== null && f.latency.percentile(99) <= 100 && f.lost === 0, `p99 delivery into a 1,000-member room ≤ 100 ms — ${f ? `${fixed(f.latency.percentile(99))} ms, ${f.lost} lost` : "not measured"}`));
  return lines.join("\n");
}
