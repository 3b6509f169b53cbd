/**
 * `npm run bench -- lobby-scale [--quick]`: the lobby at scale (issue 19, requirement 4). For each
 * room count R (a fresh Redis and fresh Sala nodes per R: two, or one per 15,000 sockets), R real rooms (room-filler.ts), then
 * U distinct users online, growing (1k, 10k, 50k; quick: 1k, 5k), their idle lobby sockets held by
 * generator processes (socket-generator.ts) over both nodes, sessions minted in the store
 * (minted-sessions.ts). At each U:
 *
 * - handshakes: fresh users connect one at a time (handshake-probe.ts): time to the first `lobby`
 *   event (the snapshot) and its size;
 * - the floor: the nodes' and Redis' CPU for a few seconds with nothing happening;
 * - churn: 1 % of U per minute drop their socket for longer than the presence grace (nodes run
 *   with PRESENCE_GRACE_MS=1000) and come back; over a window (60 s; quick: 20 s) it measures every
 *   byte and frame one idle lobby socket receives (one watcher socket, and the mean over every
 *   generator socket open all along), and the nodes' and Redis' CPU per churn event (per online
 *   or offline transition).
 *
 * The sockets only count what they receive (lean-socket.ts), so the bench holds whatever the
 * lobby's events are. Prints a markdown table with the issue's targets; writes nothing.
 */
import { sleep } from "@sala/cluster/processes";
import type { ProgressLine } from "../driver/progress.js";
import { GeneratorPool } from "./generator-pool.js";
import { probeHandshakes, type ProbeResult } from "./handshake-probe.js";
import { LeanSocket } from "./lean-socket.js";
import { CpuMeter, machineDescription } from "./machine.js";
import { mintUsers, repairIndexes } from "./minted-sessions.js";
import { RoomFiller } from "./room-filler.js";
import { ScaleCluster } from "./scale-cluster.js";
import { ORIGIN } from "./systems.js";

export interface LobbyScaleSize {
  /** Users online at each step, ascending. */
  users: number[];
  /** Room counts: one fresh cluster each. */
  rooms: number[];
  windowSec: number;
  /** Churn before the window opens, so that the window sees cycles in every stage. */
  warmupSec: number;
  idleSec: number;
  probes: number;
}

export const LOBBY_SCALE_FULL: LobbyScaleSize = { users: [1000, 10_000, 50_000], rooms: [1000, 10_000], windowSec: 60, warmupSec: 10, idleSec: 10, probes: 200 };
export const LOBBY_SCALE_QUICK: LobbyScaleSize = { users: [1000, 5000], rooms: [1000, 10_000], windowSec: 20, warmupSec: 5, idleSec: 5, probes: 200 };

/** Room owners (online all along, among the U). */
const OWNERS = 20;
const GENERATORS = 4;
const SOCKETS_PER_NODE = 15_000;
const PRESENCE_GRACE_MS = 1000;
/**
 * How long a churned user stays away: past the grace and the node's next presence tick (every
 * heartbeat, 2 s), so that each cycle is an offline and an online transition.
 */
const OFFLINE_MS = 6000;
const CHURN_PER_MINUTE = 0.01;
/** Handshakes in flight per generator while the users come online. */
const OPEN_CONCURRENCY = 16;

export interface LobbyScaleRow {
  users: number;
  rooms: number;
  /** Bringing this step's new users online. */
  openSec: number;
  openErrors: number;
  /** Users of U that never came online (all their tries failed). */
  missing: number;
  probe: ProbeResult;
  watcher: Traffic;
  /** Per socket, averaged over every generator socket open all through the window. */
  steady: Traffic & { sockets: number };
  /** Users whose socket was open when the window opened, as the clients saw it (a socket the server dropped is not). */
  onlineAtWindow: number;
  transitions: number;
  reconnectErrors: number;
  windowSec: number;
  nodeCpuMs: number;
  redisCpuMs: number;
  /** CPU with nothing happening (ms per second of wall time). */
  idleNodeMsPerSec: number;
  idleRedisMsPerSec: number;
}

interface Traffic {
  bytesPerSec: number;
  framesPerSec: number;
}

/** CPU of the nodes and of Redis over `work`. */
async function measureCpu<T>(cluster: ScaleCluster, work: () => Promise<T>): Promise<{ value: T; nodeMs: number; redisMs: number; wallMs: number }> {
  const nodes = new CpuMeter(cluster.nodePids);
  const redisBefore = await cluster.probe.read();
  await nodes.start();
  const start = Date.now();
  const value = await work();
  const wallMs = Date.now() - start;
  const nodeMs = await nodes.stop();
  const redisMs = [...cluster.probe.delta(redisBefore, await cluster.probe.read()).values()].reduce((sum, d) => sum + d.cpuMs, 0);
  return { value, nodeMs, redisMs, wallMs };
}

/** One R: a fresh cluster, its rooms, then the users growing through the steps. */
async function measureRooms(size: LobbyScaleSize, rooms: number, progress: ProgressLine): Promise<LobbyScaleRow[]> {
  // A process here holds at most 20,000 descriptors (`ulimit -n`): 15,000 sockets per node at most.
  const nodeCount = Math.max(2, Math.ceil(Math.max(...size.users) / SOCKETS_PER_NODE));
  progress.phase(`R = ${rooms}: starting Redis and ${nodeCount} Sala nodes…`);
  const cluster = await ScaleCluster.start({
    nodes: nodeCount,
    label: `lobby${rooms}`,
    env: {
      PRESENCE_GRACE_MS: String(PRESENCE_GRACE_MS),
      MAX_ROOMS_PER_USER: "0",
      ROOM_CREATIONS_PER_USER: "1000000",
      SOCKET_EVENTS_PER_SEC: "10000",
    },
    execArgv: ["--max-old-space-size=8192"],
  });
  const target = { kind: "sala" as const, urls: cluster.urls, origin: ORIGIN };
  const maxUsers = Math.max(...size.users);
  const generatorUsers = maxUsers - OWNERS - 1;
  let pool: GeneratorPool | null = null;
  let filler: RoomFiller | null = null;
  let watcher: LeanSocket | null = null;
  try {
    const names = [
      ...Array.from({ length: generatorUsers }, (_, i) => `ls${i}`),
      ...Array.from({ length: OWNERS }, (_, i) => `lsowner${i}`),
      "lswatcher",
      ...Array.from({ length: size.probes }, (_, i) => `lsprobe${i}`),
    ];
    progress.phase(`R = ${rooms}: minting ${names.length} accounts and sessions, then the operator's repair…`);
    const minted = await mintUsers(cluster.sessions, names, (done) => progress.update(`minted ${done}`));
    progress.done();
    await repairIndexes(cluster.sessions);
    const users = minted.slice(0, generatorUsers);
    const owners = minted.slice(generatorUsers, generatorUsers + OWNERS);
    const watcherUser = minted[generatorUsers + OWNERS]!;
    const probes = minted.slice(generatorUsers + OWNERS + 1);

    progress.phase(`R = ${rooms}: ${OWNERS} owners creating ${rooms} rooms…`);
    filler = await RoomFiller.open(target, owners);
    await filler.fill(rooms, "lobby room ", (n) => progress.update(`rooms ${n}/${rooms}`));
    progress.done();
    watcher = new LeanSocket({ url: cluster.urls[0]!, cookie: watcherUser.cookie, origin: ORIGIN });
    await watcher.connected;
    pool = GeneratorPool.start(GENERATORS);

    const perGenerator = Array.from({ length: GENERATORS }, () => 0);
    let opened = 0;
    let missing = 0;
    const rows: LobbyScaleRow[] = [];
    for (const online of size.users) {
      const want = online - OWNERS - 1;
      const batch = users.slice(opened, want);
      progress.phase(`R = ${rooms}, U = ${online}: ${batch.length} more users coming online over ${GENERATORS} generators…`);
      const share = Math.ceil(batch.length / GENERATORS);
      const openStart = Date.now();
      const ticker = setInterval(() => progress.update(`online: ${opened + pool!.progress.opened}/${want} · errors ${pool!.progress.errors} · ${Math.round((Date.now() - openStart) / 1000)} s`), 1000);
      const results = await pool
        .each((g) => {
          const slice = batch.slice(g * share, (g + 1) * share);
          if (slice.length === 0) return null;
          perGenerator[g]! += slice.length;
          return { cmd: "open", users: slice, urls: cluster.urls, firstIndex: opened + g * share, origin: ORIGIN, concurrency: OPEN_CONCURRENCY, attempts: 10, connectTimeoutMs: 60_000, deadline: Number.MAX_SAFE_INTEGER };
        })
        .finally(() => clearInterval(ticker));
      progress.done();
      const openSec = (Date.now() - openStart) / 1000;
      const openErrors = results.reduce((sum, r) => sum + r.errors, 0);
      const notOpened = results.reduce((sum, r) => sum + r.notOpened, 0);
      // A user who could not come online (every try timed out) is left out, and the row says so.
      missing += notOpened;
      if (notOpened > 0) progress.phase(`U = ${online}: ${notOpened} users could not come online (${results.flatMap((r) => r.errorSamples).slice(0, 2).join("; ")})`);
      opened = want;
      await sleep(3000); // the last presence changes flushed

      progress.phase(`R = ${rooms}, U = ${online}: ${probes.length} fresh handshakes, one at a time…`);
      const probe = await probeHandshakes(probes, cluster.urls, ORIGIN);
      await sleep(PRESENCE_GRACE_MS + 3000); // their offline transitions done

      progress.phase(`R = ${rooms}, U = ${online}: idle floor (${size.idleSec} s)…`);
      const idle = await measureCpu(cluster, () => sleep(size.idleSec * 1000));

      const churnTotal = CHURN_PER_MINUTE * online;
      progress.phase(`R = ${rooms}, U = ${online}: churn ${churnTotal.toFixed(1)} users/min, ${size.warmupSec} s warm-up, ${size.windowSec} s window…`);
      await pool.each((g) => ({ cmd: "churn-start", perMinute: (churnTotal * perGenerator[g]!) / want, offlineMs: OFFLINE_MS }));
      await sleep(size.warmupSec * 1000);
      const before = await pool.all({ cmd: "mark" });
      const watcherBefore = { bytes: watcher.bytes, frames: watcher.frames };
      const window = await measureCpu(cluster, async () => {
        await sleep(size.windowSec * 1000);
        return pool!.all({ cmd: "since-mark" });
      });
      const watcherDelta = { bytes: watcher.bytes - watcherBefore.bytes, frames: watcher.frames - watcherBefore.frames };
      const after = window.value;
      const stopped = await pool.all({ cmd: "churn-stop" });
      if (!watcher.isOpen) throw new Error("the watcher socket was closed by the server");
      const sum = (list: typeof after, pick: (c: (typeof after)[number]) => number) => list.reduce((total, c) => total + pick(c), 0);
      const windowSec = window.wallMs / 1000;
      const steadySockets = sum(after, (c) => c.steadySockets);
      rows.push({
        users: online,
        rooms,
        openSec,
        openErrors,
        missing,
        probe,
        watcher: { bytesPerSec: watcherDelta.bytes / windowSec, framesPerSec: watcherDelta.frames / windowSec },
        onlineAtWindow: sum(before, (c) => c.open) + OWNERS + 1,
        steady: {
          sockets: steadySockets,
          bytesPerSec: sum(after, (c) => c.steadyBytes) / Math.max(1, steadySockets) / windowSec,
          framesPerSec: sum(after, (c) => c.steadyFrames) / Math.max(1, steadySockets) / windowSec,
        },
        transitions: sum(after, (c) => c.wentOffline + c.cameBack) - sum(before, (c) => c.wentOffline + c.cameBack),
        reconnectErrors: sum(stopped, (c) => c.reconnectErrors),
        windowSec,
        nodeCpuMs: window.nodeMs,
        redisCpuMs: window.redisMs,
        idleNodeMsPerSec: idle.nodeMs / (idle.wallMs / 1000),
        idleRedisMsPerSec: idle.redisMs / (idle.wallMs / 1000),
      });
      progress.phase(renderRow(rows.at(-1)!));
    }
    return rows;
  } finally {
    progress.done();
    await watcher?.close();
    await pool?.stop();
    await filler?.close().catch(() => undefined);
    await cluster.stop();
  }
}

export async function lobbyScaleBench(size: LobbyScaleSize, progress: ProgressLine): Promise<string> {
  const rows: LobbyScaleRow[] = [];
  for (const rooms of size.rooms) rows.push(...(await measureRooms(size, rooms, progress)));
  return report(rows, size);
}

const fixed = (n: number, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : "–");
const kb = (bytes: number) => `${fixed(bytes / 1024, bytes < 10 * 1024 ? 1 : 0)} KB`;

function perTransition(row: LobbyScaleRow, cpuMs: number, idleMsPerSec: number): { raw: number; net: number } {
  const events = Math.max(1, row.transitions);
  return { raw: cpuMs / events, net: (cpuMs - idleMsPerSec * row.windowSec) / events };
}

function renderRow(row: LobbyScaleRow): string {
  const node = perTransition(row, row.nodeCpuMs, row.idleNodeMsPerSec);
  return `U=${row.users} R=${row.rooms}: snapshot ${kb(row.probe.snapshotBytes.percentile(50))}, handshake p50/p99 ${fixed(row.probe.toLobby.percentile(50))}/${fixed(row.probe.toLobby.percentile(99))} ms, idle socket ${fixed(row.watcher.bytesPerSec)} B/s, node CPU ${fixed(node.raw, 2)} ms/churn event`;
}

function report(rows: LobbyScaleRow[], size: LobbyScaleSize): string {
  const lines: string[] = [];
  lines.push(`Machine: ${machineDescription()}; not pinned (nodes, Redis and ${GENERATORS} generator processes share the cores).`);
  lines.push(
    `Per R: a fresh Redis and Sala nodes (two, or one per ${SOCKETS_PER_NODE} sockets: a process here holds 20,000 descriptors; PRESENCE_GRACE_MS=${PRESENCE_GRACE_MS}); R rooms made by ${OWNERS} owners over create_room (every tenth with a second member); U distinct users online (sessions minted in the store, every socket through the real handshake), idle lobby sockets spread over the nodes, each with its share of the lobby budget (LOBBY_SENDS_PER_SEC = 2000 × cores / nodes). ` +
      `Handshakes: ${size.probes} fresh users one at a time, timed from the upgrade request to the first \`lobby\` event. Churn: ${CHURN_PER_MINUTE * 100} % of U per minute go offline for ${OFFLINE_MS / 1000} s and come back; ` +
      `the window is ${size.windowSec} s after ${size.warmupSec} s of churn; an event is one online or offline transition. Traffic counts every server→client websocket frame (payload bytes), pings included.`,
  );
  lines.push("");
  lines.push(
    "| U (online at the window) | R | snapshot p50 / max | handshake → lobby p50 / p99 ms | idle socket B/s (frames/s), watcher | idle socket B/s (frames/s), mean of all | churn events in window | node CPU ms / event (net of idle) | Redis CPU ms / event (net of idle) | idle CPU node / Redis ms/s | bring-up s (failed tries) |",
  );
  lines.push("|---|---|---|---|---|---|---|---|---|---|---|");
  for (const row of rows) {
    const node = perTransition(row, row.nodeCpuMs, row.idleNodeMsPerSec);
    const redis = perTransition(row, row.redisCpuMs, row.idleRedisMsPerSec);
    const probeErrors = row.probe.errors > 0 ? ` (${row.probe.errors} failed: ${row.probe.errorSamples[0]})` : "";
    lines.push(
      `| ${row.users} (${row.onlineAtWindow}) | ${row.rooms} | ${kb(row.probe.snapshotBytes.percentile(50))} / ${kb(row.probe.snapshotBytes.max())} | ${fixed(row.probe.toLobby.percentile(50))} / ${fixed(row.probe.toLobby.percentile(99))}${probeErrors} | ${fixed(row.watcher.bytesPerSec)} (${fixed(row.watcher.framesPerSec, 1)}) | ${fixed(row.steady.bytesPerSec)} (${fixed(row.steady.framesPerSec, 1)}) over ${row.steady.sockets} | ${row.transitions}${row.reconnectErrors > 0 ? ` (${row.reconnectErrors} reconnects refused)` : ""} | ${fixed(node.raw, 2)} (${fixed(node.net, 2)}) | ${fixed(redis.raw, 2)} (${fixed(redis.net, 2)}) | ${fixed(row.idleNodeMsPerSec, 1)} / ${fixed(row.idleRedisMsPerSec, 1)} | ${fixed(row.openSec)} (${row.openErrors}${row.missing > 0 ? `; ${row.missing} users never online` : ""}) |`,
    );
  }
  lines.push("", "**Targets (issue 19)**", "");
  lines.push(...verdicts(rows).map((v) => `- ${v.met ? "met" : "MISSED"}: ${v.target} — ${v.figure}`));
  return lines.join("\n");
}

function verdicts(rows: LobbyScaleRow[]): Array<{ target: string; met: boolean; figure: string }> {
  const maxOf = (pick: (row: LobbyScaleRow) => number) => Math.max(...rows.map(pick));
  const biggestSnapshot = maxOf((row) => row.probe.snapshotBytes.max());
  const worstP99 = maxOf((row) => row.probe.toLobby.percentile(99));
  const topU = maxOf((row) => row.users);
  const atTop = rows.filter((row) => row.users === topU);
  const idleAtTop = Math.max(...atTop.map((row) => row.watcher.bytesPerSec));
  const out = [
    { target: "snapshot ≤ 16 KB whatever U and R", met: biggestSnapshot <= 16 * 1024, figure: `largest ${kb(biggestSnapshot)}` },
    { target: "handshake p99 ≤ 50 ms whatever U and R", met: worstP99 <= 50, figure: `worst p99 ${fixed(worstP99)} ms` },
    {
      target: `≤ 1 KB/s to an idle lobby socket at ${topU === 50_000 ? "50k" : `${topU} (quick run; the target is at 50k)`} online users with 1 %/min churn`,
      met: idleAtTop <= 1024,
      figure: `${fixed(idleAtTop)} B/s (watcher, worst R)`,
    },
  ];
  // Flat in U: the CPU per event at the largest U within 2× of that at the smallest, for each R.
  const flat: string[] = [];
  let met = true;
  for (const rooms of [...new Set(rows.map((row) => row.rooms))]) {
    const series = rows.filter((row) => row.rooms === rooms).sort((a, b) => a.users - b.users);
    const perEvent = series.map((row) => perTransition(row, row.nodeCpuMs, row.idleNodeMsPerSec).net);
    const ratio = perEvent.at(-1)! / Math.max(1e-6, perEvent[0]!);
    if (!(ratio <= 2)) met = false;
    flat.push(`R=${rooms}: ${perEvent.map((v) => fixed(v, 2)).join(" → ")} ms (×${fixed(ratio, 1)})`);
  }
  out.push({ target: "node CPU per churn event flat in U (net of idle; largest U within 2× of smallest)", met, figure: flat.join("; ") });
  return out;
}
