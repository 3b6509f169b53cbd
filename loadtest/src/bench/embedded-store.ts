/**
 * `npm run bench -- embedded-store [--quick] [--cpu-prof DIR]`: the embedded single node (no
 * Redis) on its SQLite store beside the same node on STORE=memory, in one run (issue 22, item 5).
 * Two nodes run side by side, the SQLite one on a fresh DATA_DIR; each has its own users, and both
 * get the same load, alternately, so that this machine's drift (10–30 % within minutes, rounds.ts)
 * lands on both:
 *
 * - registrations and logins: the users in chunks, each chunk on one store then on the other (the
 *   order flipping each time), the node on the login storm's cores as in run.ts;
 * - 4-member rooms: every user in a room of 4 at run.ts's small-room steps (ChatPhase), the two
 *   stores in interleaved rounds.
 *
 * Measured per store: the node's own CPU (/proc; per registration, login and message), login and
 * ack latency, and the node's longest event-loop stall (its per-second samples, read by an admin
 * socket as run.ts reads them): a synchronous SQLite write that blocks would show there. With
 * `--cpu-prof DIR` both nodes write a V8 CPU profile there when they stop, and the report gives the
 * room phase's window on the profiles' clock. Prints markdown; writes nothing.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { NodeProcess } from "@sala/cluster/node";
import { freePort, sleep } from "@sala/cluster/processes";
import type { ProgressLine } from "../driver/progress.js";
import { MetricsWatch } from "../metrics-watch.js";
import { loginStorm, registerStorm, type StormResult } from "../scenarios/login-storm.js";
import { Samples } from "../stats.js";
import type { LoadUser } from "../target.js";
import { coreLayout, type CoreLayout } from "./cores.js";
import { CpuMeter, machineDescription, pin } from "./machine.js";
import { ChatPhase, type ChatRow } from "./phases.js";
import { cpuPer, cpuPerInRound } from "./results.js";
import { combineRounds, roundCount } from "./rounds.js";
import { ADMIN, benchNodeEnv, ORIGIN, type System } from "./systems.js";

export interface EmbeddedStoreSize {
  /** Users per store (registered, logged in, then 4 to a room). */
  users: number;
  /** Registrations and logins run in this many chunks per store, the stores alternating. */
  loginChunks: number;
  smallRoomSteps: number[];
  chatRounds: number;
  chatStepSeconds: number;
}

/** run.ts's login and small-room phases, at its full and quick sizes. */
export const EMBEDDED_STORE_FULL: EmbeddedStoreSize = { users: 1000, loginChunks: 4, smallRoomSteps: [500, 1000, 2000], chatRounds: 3, chatStepSeconds: 4 };
export const EMBEDDED_STORE_QUICK: EmbeddedStoreSize = { users: 200, loginChunks: 2, smallRoomSteps: [100, 200], chatRounds: 2, chatStepSeconds: 2 };

/** Issue 22's targets: SQLite's CPU per message against memory's, and the longest stall. */
const CPU_RATIO_TARGET = 1.3;
const STALL_TARGET_MS = 50;
/** As run.ts: logins 32 at a time, registrations 16. */
const LOGIN_CONCURRENCY = 32;
const REGISTER_CONCURRENCY = 16;

const SQLITE = "embedded, SQLite";
const MEMORY = "embedded, memory";

/** The operator's CLI, built with the node: embedded, it reaches the node through ADMIN_SOCKET. */
const ADMIN_CLI = fileURLToPath(new URL("../../../services/chat/dist/admin/cli.js", import.meta.url));

/** Registrations or logins on one store, summed over its chunks. */
interface Storm {
  done: number;
  errors: number;
  seconds: number;
  cpuMs: number;
  latency: Samples;
  /** When each chunk ran, to pick the node's samples of it. */
  windows: Array<{ from: number; to: number }>;
  /** Filled after the last chunk from the node's samples: each second's loop p99, and the longest stall. */
  loopP99Ms: number[];
  stallMs: number | null;
}

const emptyStorm = (): Storm => ({ done: 0, errors: 0, seconds: 0, cpuMs: 0, latency: new Samples(), windows: [], loopP99Ms: [], stallMs: null });

/** One embedded node under test, with its own users and an admin's feed of its samples. */
interface Store {
  label: string;
  node: NodeProcess;
  /** The SQLite store's folder (null: memory). */
  dataDir: string | null;
  adminSocket: string;
  system: System;
  watch: MetricsWatch | null;
  users: LoadUser[];
  registrations: Storm;
  logins: Storm;
  chat: ChatPhase | null;
}

async function startStore(label: string, id: string, storeEnv: Record<string, string>, dir: string, cores: CoreLayout, execArgv: string[]): Promise<Store> {
  const adminSocket = join(dir, `${id}.sock`);
  const env = {
    ...storeEnv,
    ADMIN_SOCKET: adminSocket,
    ...benchNodeEnv(cores),
  };
  const node = new NodeProcess(id, await freePort(), env, execArgv.length > 0 ? [...execArgv, `--cpu-prof-name=${id}.cpuprofile`] : []);
  try {
    await node.start();
    await pin(node.process.pid!, cores.server(0));
  } catch (error) {
    await node.stop();
    throw error;
  }
  return {
    label,
    node,
    dataDir: storeEnv.DATA_DIR ?? null,
    adminSocket,
    system: { label, target: { kind: "sala", urls: [node.url], origin: ORIGIN }, nodePids: [node.process.pid!], redisPid: null, nodeIds: [id], stop: async () => undefined },
    watch: null,
    users: [],
    registrations: emptyStorm(),
    logins: emptyStorm(),
    chat: null,
  };
}

async function stopStore(store: Store): Promise<void> {
  await store.chat?.close().catch(() => undefined);
  await store.watch?.close().catch(() => undefined);
  await store.node.stop();
}

/** Registers the admin, grants the role through the node's admin socket as an operator does, and opens the admin's feed of the node's samples. */
async function watchNode(store: Store): Promise<void> {
  const { target } = store.system;
  if ((await registerStorm(target, [ADMIN])).errors > 0) throw new Error(`${store.label}: the admin's registration failed`);
  await promisify(execFile)(process.execPath, [ADMIN_CLI, "grant-admin", ADMIN], { env: { PATH: process.env.PATH, ADMIN_SOCKET: store.adminSocket } });
  const admin = (await loginStorm(target, [ADMIN])).users[0];
  if (!admin) throw new Error(`${store.label}: the admin's login failed`);
  store.watch = await MetricsWatch.open(target, admin);
}

/** Runs one chunk of a storm on `store`'s node, on the login storm's cores, with the node's CPU measured around it. */
async function stormChunk(store: Store, storm: Storm, cores: CoreLayout, run: () => Promise<StormResult>): Promise<void> {
  const pid = store.node.process.pid!;
  await pin(pid, cores.logins);
  const cpu = new CpuMeter([pid]);
  await cpu.start();
  const from = Date.now();
  const result = await run();
  const to = Date.now();
  storm.cpuMs += await cpu.stop();
  await pin(pid, cores.server(0));
  storm.done += result.count - result.errors;
  storm.errors += result.errors;
  storm.seconds += result.seconds;
  storm.latency.addAll(result.latency);
  storm.windows.push({ from, to });
}

/**
 * Reads each storm's stalls from the node's samples. A sample at time t covers the second before
 * t, so a chunk's samples are those up to a second after its end: call this a second or more after
 * the last chunk.
 */
function readStormStalls(store: Store, storm: Storm): void {
  const samples = store.watch ? storm.windows.flatMap(({ from, to }) => store.watch!.between(from + 1, to + 1000, store.node.id)) : [];
  storm.loopP99Ms = samples.map((s) => s.loopDelayP99Ms).sort((a, b) => a - b);
  storm.stallMs = samples.length > 0 ? Math.max(...samples.map((s) => s.loopDelayMaxMs)) : null;
}

/** `items` cut into `count` chunks of (nearly) equal size. */
function chunks<T>(items: T[], count: number): T[][] {
  const size = Math.ceil(items.length / count);
  return Array.from({ length: count }, (_, i) => items.slice(i * size, (i + 1) * size)).filter((chunk) => chunk.length > 0);
}

/** The stores in the order of round `i`: forwards, then backwards, so neither always goes first. */
const inTurn = <T>(items: T[], i: number): T[] => (i % 2 === 0 ? items : [...items].reverse());

interface Outcome {
  size: EmbeddedStoreSize;
  pinning: string;
  stores: Store[];
  rows: ChatRow[];
  /** The SQLite file and its write-ahead log after the run (bytes). */
  sqliteBytes: { file: number; wal: number } | null;
  /** The room phase on the nodes' monotonic clock (µs, as a V8 CPU profile's timestamps). */
  roomWindowUs: { from: bigint; to: bigint };
  profileDir: string | undefined;
}

export async function embeddedStoreBench(size: EmbeddedStoreSize, progress: ProgressLine, profileDir?: string): Promise<string> {
  const cores = coreLayout(availableParallelism());
  const pinned = await pin(process.pid, cores.generator);
  const pinning = pinned ? cores.description : "not pinned (taskset failed)";
  progress.phase(`machine: ${machineDescription()}; ${pinning}`);
  const dir = mkdtempSync(join(tmpdir(), "sala-bench-embedded-"));
  const execArgv = profileDir ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : [];
  const stores: Store[] = [];
  try {
    progress.phase(`starting an embedded node on SQLite (fresh DATA_DIR under ${dir}) and one on memory…`);
    stores.push(await startStore(SQLITE, "embedded-sqlite", { STORE: "sqlite", DATA_DIR: join(dir, "data") }, dir, cores, execArgv));
    stores.push(await startStore(MEMORY, "embedded-memory", { STORE: "memory" }, dir, cores, execArgv));
    for (const store of stores) await watchNode(store);

    const names = Array.from({ length: size.users }, (_, i) => `emb${i}`);
    const parts = chunks(names, size.loginChunks);
    for (const [i, part] of parts.entries()) {
      for (const store of inTurn(stores, i)) {
        progress.phase(`${store.label}: registering ${part.length} users (chunk ${i + 1}/${parts.length})…`);
        await stormChunk(store, store.registrations, cores, () => registerStorm(store.system.target, part, REGISTER_CONCURRENCY));
      }
    }
    for (const [i, part] of parts.entries()) {
      for (const store of inTurn(stores, i)) {
        progress.phase(`${store.label}: login storm of ${part.length} users, ${LOGIN_CONCURRENCY} at a time (chunk ${i + 1}/${parts.length})…`);
        await stormChunk(store, store.logins, cores, async () => {
          const { result, users } = await loginStorm(store.system.target, part, LOGIN_CONCURRENCY);
          store.users.push(...users);
          return result;
        });
      }
    }
    await sleep(1500); // the samples covering the last chunk
    for (const store of stores) {
      if (store.registrations.errors > 0 || store.logins.errors > 0) {
        throw new Error(`${store.label}: ${store.registrations.errors} registrations and ${store.logins.errors} logins failed`);
      }
      readStormStalls(store, store.registrations);
      readStormStalls(store, store.logins);
    }

    const rooms = Math.floor(size.users / 4);
    for (const store of stores) store.chat = await ChatPhase.open(store.system, store.users, rooms, `emb-${store.node.id}-`, progress, store.watch);
    const rounds: ChatRow[][] = [];
    const roomFrom = process.hrtime.bigint() / 1000n;
    for (let round = 0; round < size.chatRounds; round++) {
      const rows: ChatRow[] = [];
      for (const store of inTurn(stores, round)) rows.push(...(await store.chat!.run(size.smallRoomSteps, size.chatStepSeconds)));
      rounds.push(rows);
    }
    const roomTo = process.hrtime.bigint() / 1000n;
    await sleep(1500); // the samples covering the last step
    for (const store of stores) store.chat!.readNodeStalls();

    const sqlite = stores[0]!;
    const outcome: Outcome = {
      size,
      pinning,
      stores,
      rows: combineRounds(rounds),
      sqliteBytes: sqlite.dataDir ? fileBytes(join(sqlite.dataDir, "sala.sqlite")) : null,
      roomWindowUs: { from: roomFrom, to: roomTo },
      profileDir,
    };
    return report(outcome);
  } finally {
    progress.done();
    // Stopping writes the CPU profiles (--cpu-prof): the nodes exit by themselves on SIGTERM.
    for (const store of stores) await stopStore(store).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

function fileBytes(file: string): { file: number; wal: number } {
  const size = (path: string) => {
    try {
      return statSync(path).size;
    } catch {
      return 0;
    }
  };
  return { file: size(file), wal: size(`${file}-wal`) };
}

const f = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : "–");
const ms = (n: number | null) => (n === null ? "–" : f(n, 0));
const maxOf = (values: Array<number | null>) => {
  const known = values.filter((x): x is number => x !== null);
  return known.length > 0 ? Math.max(...known) : null;
};

function stormCells(storm: Storm): string[] {
  const perSec = storm.done / Math.max(0.001, storm.seconds);
  return [
    f(perSec),
    f(storm.cpuMs / Math.max(1, storm.done), 2),
    `${f(storm.latency.percentile(50), 0)} / ${f(storm.latency.percentile(99), 0)}`,
    `${f(storm.loopP99Ms.at(-1) ?? Number.NaN)} / ${f(storm.loopP99Ms[Math.floor(storm.loopP99Ms.length / 2)] ?? Number.NaN)}`,
    ms(storm.stallMs),
    `${storm.errors}`,
  ];
}

/** The longest stall of one store's room phase: over all steps and rounds. */
function roomStall(rows: ChatRow[], label: string, pick: "serverStallMs" | "driverStallMs"): number | null {
  return maxOf(rows.filter((row) => row.system === label).flatMap((row) => row.rounds.map((r) => r[pick])));
}

/** One store's longest node stall in each round, over its steps. */
function stallsByRound(rows: ChatRow[], label: string, rounds: number): string {
  const mine = rows.filter((row) => row.system === label);
  return Array.from({ length: rounds }, (_, i) => ms(maxOf(mine.map((row) => row.rounds[i]?.serverStallMs ?? null)))).join(" / ");
}

function report(o: Outcome): string {
  const { size, stores, rows } = o;
  const rounds = roundCount(rows);
  const lines: string[] = [];
  lines.push(`Machine: ${machineDescription()}; ${o.pinning}.`);
  lines.push(
    `Per store: one embedded node (NODE_ENV=production, no Redis), ${size.users} users registered and logged in in ${size.loginChunks} chunks (the stores alternating, the node on the login storm's cores), then ${Math.floor(size.users / 4)} rooms of 4 at ${size.smallRoomSteps.join(", ")} msg/s, ${size.chatStepSeconds} s per step, ${rounds} interleaved rounds (CPU the median round, latencies pooled over the rounds).`,
  );
  lines.push("", "**Registrations and logins** (CPU: the node process, argon2id's threads included)", "");
  lines.push("| store | phase | per second | node CPU ms each | p50 / p99 ms | event-loop p99, worst / median second ms | longest stall ms | errors |");
  lines.push("|---|---|---|---|---|---|---|---|");
  for (const store of stores) {
    lines.push(`| ${store.label} | registrations | ${stormCells(store.registrations).join(" | ")} |`);
    lines.push(`| ${store.label} | logins | ${stormCells(store.logins).join(" | ")} |`);
  }
  lines.push("", `**${Math.floor(size.users / 4)} rooms of 4**`, "");
  lines.push("| store | msg/s | node CPU µs/message | node CPU µs/delivery | ack p50 / p99 ms | delivery p50 / p99 ms | lost | dup | failed | node CPU % | driver CPU % | longest stall ms, node / driver |");
  lines.push("|---|---|---|---|---|---|---|---|---|---|---|---|");
  for (const r of rows) {
    lines.push(
      `| ${r.system} | ${r.messagesPerSec} | ${f(r.cpuUsPerMessage, 0)} | ${f(r.cpuUsPerDelivery, 1)} | ${f(r.result.ackRtt.percentile(50), 0)} / ${f(r.result.ackRtt.percentile(99), 0)} | ${f(r.result.deliveryLatency.percentile(50), 0)} / ${f(r.result.deliveryLatency.percentile(99), 0)} | ${r.result.lost} | ${r.result.duplicates} | ${r.result.failed} | ${f(r.serverCpuPercent, 0)} | ${f(r.generatorCpuPercent, 0)} | ${ms(maxOf(r.rounds.map((x) => x.serverStallMs)))} / ${ms(maxOf(r.rounds.map((x) => x.driverStallMs)))} |`,
    );
  }

  const sqliteCpu = cpuPer(rows, SQLITE, "message");
  const memoryCpu = cpuPer(rows, MEMORY, "message");
  const ratio = sqliteCpu / memoryCpu;
  const perRound = Array.from({ length: rounds }, (_, i) => f(cpuPerInRound(rows, SQLITE, "message", i) / cpuPerInRound(rows, MEMORY, "message", i), 2)).join(" / ");
  const perStep = size.smallRoomSteps
    .map((rate) => {
      const at = (label: string) => rows.find((row) => row.system === label && row.messagesPerSec === rate)?.cpuUsPerMessage ?? Number.NaN;
      return `${rate} msg/s ${f(at(SQLITE) / at(MEMORY), 2)}×`;
    })
    .join(", ");
  const [sqlite, memory] = stores as [Store, Store];
  const sqliteStall = maxOf([roomStall(rows, SQLITE, "serverStallMs"), sqlite.registrations.stallMs, sqlite.logins.stallMs]);
  const loginRatio = sqlite.logins.cpuMs / Math.max(1, sqlite.logins.done) / (memory.logins.cpuMs / Math.max(1, memory.logins.done));
  const verdict = (met: boolean) => (met ? "met" : "**MISSED**");
  lines.push("", "**SQLite against memory**", "");
  lines.push(
    `- Node CPU per message over all steps: ${f(sqliteCpu, 0)} µs vs ${f(memoryCpu, 0)} µs = **${f(ratio, 2)}×** (per round ${perRound}×; by step ${perStep}); target ≤ ${CPU_RATIO_TARGET}×: ${verdict(ratio <= CPU_RATIO_TARGET)}.`,
  );
  lines.push(
    `- Longest event-loop stall of the SQLite node: ${ms(sqliteStall)} ms (rooms ${ms(roomStall(rows, SQLITE, "serverStallMs"))}, per round ${stallsByRound(rows, SQLITE, rounds)}; registrations ${ms(sqlite.registrations.stallMs)}; logins ${ms(sqlite.logins.stallMs)}); the memory node's beside it: rooms ${ms(roomStall(rows, MEMORY, "serverStallMs"))} (per round ${stallsByRound(rows, MEMORY, rounds)}), registrations ${ms(memory.registrations.stallMs)}, logins ${ms(memory.logins.stallMs)}; target ≤ ${STALL_TARGET_MS} ms: ${verdict(sqliteStall !== null && sqliteStall <= STALL_TARGET_MS)} (a stall both stores show is not the store's).`,
  );
  lines.push(`- Node CPU per login: ${f(loginRatio, 2)}× memory's (argon2id is nearly all of it).`);
  if (o.sqliteBytes) lines.push(`- The SQLite file after the run: ${f(o.sqliteBytes.file / 2 ** 20)} MiB, its WAL ${f(o.sqliteBytes.wal / 2 ** 20)} MiB.`);
  if (o.profileDir) {
    lines.push(
      `- CPU profiles: ${o.profileDir}/embedded-sqlite.cpuprofile and embedded-memory.cpuprofile (written at stop); the room phase ran from ${o.roomWindowUs.from} to ${o.roomWindowUs.to} µs on their clock (CLOCK_MONOTONIC, the profiles' startTime/timeDeltas).`,
    );
  }
  return lines.join("\n");
}
