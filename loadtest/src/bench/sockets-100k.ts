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
import { ScaleCluster } from "./scale-cluster.js";
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
export const SOCKETS_100K_QUICK: Sockets100kSize = { ...SOCKETS_100K_FULL, sockets: 10_000, nodes: 2, generators: 2, chatSeconds: 5, restSec: 5, connectDeadlineSec: 300 };

/** Handshakes in flight per generator. */
const CONCURRENCY = 32;
/** After the connects: the last lobby and presence work done, before memory is read. */
const SETTLE_MS = 10_000;

interface Outcome {
  size: Sockets100kSize;
  git: string;
  mintSec: number;
  repairSec: number;
  connectSec: number;
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
  redisEmptyBytes: number;
  redisMintedBytes: number;
  redisOnlineBytes: number;
  restNodeMs: number;
  restRedisMs: number;
  restWallMs: number;
  fanout: FanoutResult | null;
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

async function nodesRss(cluster: ScaleCluster): Promise<number> {
  let total = 0;
  for (const pid of cluster.nodePids) total += await rssBytes(pid);
  return total;
}

export async function sockets100kBench(size: Sockets100kSize, progress: ProgressLine): Promise<string> {
  const perNode = Math.ceil(size.sockets / size.nodes);
  const perGenerator = Math.ceil((size.sockets - size.roomMembers) / size.generators);
  if (perNode >= 19_000 || perGenerator > SOCKETS_PER_GENERATOR) throw new Error(`${size.sockets} sockets need more nodes or generators (${perNode} per node, ${perGenerator} per generator)`);
  const git = await gitState();
  progress.phase(`starting Redis and ${size.nodes} Sala nodes (${perNode} sockets each)…`);
  const cluster = await ScaleCluster.start({ nodes: size.nodes, label: "k100", env: { SOCKET_EVENTS_PER_SEC: "1000" }, execArgv: [`--max-old-space-size=${size.nodeHeapMb}`] });
  const target = { kind: "sala" as const, urls: cluster.urls, origin: ORIGIN };
  let pool: GeneratorPool | null = null;
  let fanout: RoomFanout | null = null;
  try {
    const redisEmptyBytes = await cluster.redisUsedMemory();
    progress.phase(`minting ${size.sockets} accounts and sessions…`);
    let started = Date.now();
    const users = await mintUsers(cluster.sessions, Array.from({ length: size.sockets }, (_, i) => `k${i}`), (n) => progress.update(`minted ${n}`));
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
    await sleep(size.restSec * 1000);
    const restWallMs = Date.now() - started;
    const restNodeMs = await nodeCpu.stop();
    const restRedisMs = await redisCpu.stop();

    let fanoutResult: FanoutResult | null = null;
    const room = chatAnswer.fanout;
    if (memberCount >= 2) {
      progress.phase(`${memberCount} of the sockets join one room…`);
      await room.join("k100 big room", (n) => progress.update(`joined ${n}/${memberCount}`));
      progress.phase(`${size.senders} senders, ${size.messagesPerSec} msg/s for ${size.chatSeconds} s into the ${memberCount}-member room, ${stillOpen} sockets connected…`);
      fanoutResult = await room.send(size.senders, size.messagesPerSec, size.chatSeconds);
    }
    return report({
      size,
      git,
      mintSec,
      repairSec,
      connectSec,
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
      redisEmptyBytes,
      redisMintedBytes,
      redisOnlineBytes,
      restNodeMs,
      restRedisMs,
      restWallMs,
      fanout: fanoutResult,
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
  const redisPerUser = (o.redisOnlineBytes - o.redisMintedBytes) / Math.max(1, o.connected);
  const restNodePct = (100 * o.restNodeMs) / o.restWallMs;
  const restRedisPct = (100 * o.restRedisMs) / o.restWallMs;
  const f = o.fanout;
  const lines: string[] = [];
  lines.push(`Machine: ${machineDescription()}; not pinned. Code: ${o.git}.`);
  lines.push(
    `${size.nodes} Sala nodes on one redis-server, ${size.generators} generator processes (up to ${Math.ceil((size.sockets - size.roomMembers) / size.generators)} idle sockets each, ${CONCURRENCY} handshakes in flight each) and ${size.roomMembers} chat clients in the bench process, over ${size.nodes} node ports; ` +
      `${size.sockets} distinct users with sessions minted in the store (${fixed(o.mintSec)} s, then the operator's repair ${fixed(o.repairSec)} s), every socket through the real handshake; one attempt per idle socket.`,
  );
  if (o.connected < size.sockets) {
    lines.push("", `**Not all connected**: ${o.connected} of ${size.sockets} before the ${size.connectDeadlineSec} s deadline or with errors; the figures below are for the ${o.connected} that did.`);
  }
  lines.push("");
  lines.push("| figure | value | target |");
  lines.push("|---|---|---|");
  lines.push(`| time to connect all | ${fixed(o.connectSec, 1)} s for ${o.connected} sockets (${fixed(o.connected / o.connectSec)}/s), ${o.errors} errors | ≤ 120 s, 0 errors |`);
  lines.push(`| handshake (upgrade → connect) p50 / p99 | ${fixed(o.connectMs.percentile(50))} / ${fixed(o.connectMs.percentile(99))} ms | |`);
  lines.push(`| lobby snapshot at connect p50 / max | ${fixed(o.lobbyBytes.percentile(50) / 1024, 1)} / ${fixed(o.lobbyBytes.max() / 1024, 1)} KB | |`);
  lines.push(`| still open ${SETTLE_MS / 1000} s later · nodes alive | ${o.stillOpen} · ${o.nodesAlive}/${size.nodes} | all |`);
  lines.push(`| RSS per socket (all nodes, after − before) | ${fixed(rssPerSocket / 1024, 1)} KB (${fixed(o.rssBeforeBytes / 2 ** 20)} → ${fixed(o.rssAfterBytes / 2 ** 20)} MB) | ≤ 15 KB |`);
  lines.push(`| Redis memory per online user (used_memory, online − offline) | ${fixed(redisPerUser)} B | |`);
  lines.push(`| Redis memory per user at rest (account + session, minted) | ${fixed((o.redisMintedBytes - o.redisEmptyBytes) / size.sockets)} B | |`);
  lines.push(`| CPU at rest, ${fixed(o.restWallMs / 1000)} s: all nodes · Redis | ${fixed(restNodePct, 1)} % · ${fixed(restRedisPct, 1)} % of a core | |`);
  if (f) {
    lines.push(
      `| delivery into a ${f.members}-member room, ${f.senders} senders, ${f.messagesPerSec} msg/s for ${fixed(f.seconds)} s: p50 / p99 / max | ${fixed(f.latency.percentile(50))} / ${fixed(f.latency.percentile(99))} / ${fixed(f.latency.max())} ms | p99 ≤ 100 ms |`,
    );
    lines.push(`| … sent / acked / failed · delivered / expected · lost · dup · ack p50 / p99 | ${f.sent} / ${f.acked} / ${f.failed} · ${f.deliveries} / ${f.expected} · ${f.lost} · ${f.duplicates} · ${fixed(f.ackRtt.percentile(50))} / ${fixed(f.ackRtt.percentile(99))} ms | |`);
  } else {
    lines.push(`| delivery into a ${size.roomMembers}-member room | not measured: the chat clients could not connect | p99 ≤ 100 ms |`);
  }
  if (o.errorSamples.length > 0) lines.push("", `Errors seen: ${o.errorSamples.join("; ")}`);
  lines.push("", "**Targets (issue 19)**", "");
  const verdict = (met: boolean, text: string) => `- ${met ? "met" : "MISSED"}: ${text}`;
  lines.push(verdict(o.connected === size.sockets && o.errors === 0 && o.connectSec <= 120, `${size.sockets} sockets connected in ≤ 120 s with 0 errors — ${o.connected} in ${fixed(o.connectSec, 1)} s, ${o.errors} errors`));
  lines.push(verdict(rssPerSocket <= 15 * 1024, `RSS per socket ≤ 15 KB — ${fixed(rssPerSocket / 1024, 1)} KB`));
  lines.push(verdict(f !== null && f.latency.percentile(99) <= 100 && f.lost === 0, `p99 delivery into a 1,000-member room ≤ 100 ms — ${f ? `${fixed(f.latency.percentile(99))} ms, ${f.lost} lost` : "not measured"}`));
  return lines.join("\n");
}
