#!/usr/bin/env node
/**
 * `npm run bench`: Sala beside a bare Socket.IO baseline, in one run, on this machine.
 *
 * Starts a redis-server and two Sala nodes (on a 2-core machine the servers pinned to core 0 and
 * this load generator to core 1; with more cores, each process on its own: cores.ts), then
 * measures, at fixed load steps: logins (with the event loop watched), room chat in one big room
 * and in many 4-member rooms (Sala on 1 and 2 nodes, bare on 1 node, and bare on 2 nodes with the
 * same Redis adapter, the four interleaved in rounds: rounds.ts), idle sockets up to 10k (memory
 * and handshakes), lobby churn and whispers. CPU is read from the server and Redis processes.
 * Prints the targets met or missed and writes docs/BENCHMARKS.md (generated section) and
 * docs/benchmarks/latency.svg.
 *
 *   npm run bench              # the full run (about 10 minutes)
 *   npm run bench -- --quick   # small numbers, to check the machinery (about 2 minutes)
 *   npm run bench -- --cpu-prof /tmp/prof   # also write the Sala nodes' CPU profiles there
 *   npm run bench -- --only small,idle       # just these phases (login, big, small, idle, churn, whisper), printed; docs are not rewritten
 *   npm run bench -- redis-cluster [--quick] # one Redis vs a Redis Cluster of 3+3, with and without WAIT 1 (redis-cluster.ts), printed; docs are not rewritten
 *   npm run bench -- lobby-scale [--quick]   # the lobby at U users online and R rooms, with churn (lobby-scale.ts), printed; docs are not rewritten
 *     (LOBBY_SCALE_USERS=1000,10000 LOBBY_SCALE_ROOMS=1000 pick other sizes)
 *   npm run bench -- sockets-100k [--quick] [--cpu-prof DIR]  # 100,000 authenticated sockets on this machine (quick: 10,000) (sockets-100k.ts), printed; docs are not rewritten
 *   npm run bench -- embedded-store [--quick] [--cpu-prof DIR]  # the embedded node on SQLite beside it on memory: logins and 4-member rooms (embedded-store.ts), printed; docs are not rewritten
 *   npm run bench -- store-costs [--quick]   # what a room message costs in the memory store, the SQLite store here and on its store thread (store-costs.ts), printed; docs are not rewritten
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { availableParallelism } from "node:os";
import { parseArgs } from "node:util";
import { ProgressLine } from "../driver/progress.js";
import { MetricsWatch } from "../metrics-watch.js";
import { loginStorm, registerStorm } from "../scenarios/login-storm.js";
import type { LoadUser } from "../target.js";
import { argon2Ceiling } from "./argon2-ceiling.js";
import { coreLayout } from "./cores.js";
import { latencyChart } from "./chart.js";
import { machineDescription, pin } from "./machine.js";
import { ChatPhase, churnPhase, idlePhase, loginPhase, whisperPhase, type ChatRow } from "./phases.js";
import { renderReport, writeReport } from "./report.js";
import { verdicts, type BenchResults } from "./results.js";
import { combineRounds } from "./rounds.js";
import { ADMIN, BenchCluster, type System } from "./systems.js";
import { REDIS_CLUSTER_FULL, REDIS_CLUSTER_QUICK, redisClusterBench } from "./redis-cluster.js";
import { LOBBY_SCALE_FULL, LOBBY_SCALE_QUICK, lobbyScaleBench, type LobbyScaleSize } from "./lobby-scale.js";
import { SOCKETS_100K_FULL, SOCKETS_100K_QUICK, sockets100kBench } from "./sockets-100k.js";
import { EMBEDDED_STORE_FULL, EMBEDDED_STORE_QUICK, embeddedStoreBench } from "./embedded-store.js";
import { STORE_COSTS_FULL, STORE_COSTS_QUICK, storeCostsBench } from "./store-costs.js";

const ROOT = new URL("../../../", import.meta.url);

const FULL = {
  users: 1000,
  bigRoomSteps: [10, 25, 50],
  smallRoomSteps: [500, 1000, 2000],
  /** Each chat step runs once per round for this long; the rounds of all systems interleave (rounds.ts). */
  chatRounds: 3,
  chatStepSeconds: 4,
  idleSteps: [1000, 2000, 5000, 10_000],
  churnSeconds: 8,
  whisperRate: 1000,
  whisperSeconds: 8,
};
const QUICK = {
  users: 200,
  bigRoomSteps: [10, 25],
  smallRoomSteps: [100, 200],
  chatRounds: 2,
  chatStepSeconds: 2,
  idleSteps: [500, 1000],
  churnSeconds: 3,
  whisperRate: 200,
  whisperSeconds: 3,
};

async function each<T>(systems: Array<() => Promise<System> | System>, measure: (system: System) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (const make of systems) {
    const system = await make();
    try {
      out.push(await measure(system));
    } finally {
      await system.stop();
    }
  }
  return out;
}

/** The phases `--only` can pick. Logins always run (every other phase needs their sessions): `--only login` runs nothing else. */
const PHASES = ["login", "big", "small", "idle", "churn", "whisper"] as const;
type Phase = (typeof PHASES)[number];

function chosenPhases(only: string | undefined): Set<Phase> {
  if (only === undefined) return new Set(PHASES);
  const picked = only.split(",").map((name) => name.trim());
  const unknown = picked.filter((name) => !(PHASES as readonly string[]).includes(name));
  if (unknown.length > 0) throw new Error(`--only: unknown phase(s) ${unknown.join(", ")}; choose from ${PHASES.join(", ")}`);
  return new Set(picked as Phase[]);
}

/** The lobby-scale sizes, with LOBBY_SCALE_USERS / LOBBY_SCALE_ROOMS (comma-separated counts) instead of the defaults. */
function lobbyScaleSize(defaults: LobbyScaleSize): LobbyScaleSize {
  const counts = (value: string | undefined) => value?.split(",").map(Number).filter((n) => Number.isInteger(n) && n > 0);
  return { ...defaults, users: counts(process.env.LOBBY_SCALE_USERS) ?? defaults.users, rooms: counts(process.env.LOBBY_SCALE_ROOMS) ?? defaults.rooms };
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      quick: { type: "boolean", default: false },
      out: { type: "string", default: "docs/BENCHMARKS.md" },
      "cpu-prof": { type: "string" },
      only: { type: "string" },
    },
  });
  if (positionals.length > 0) {
    const named: Record<string, (progress: ProgressLine) => Promise<string>> = {
      "redis-cluster": (progress) => redisClusterBench(values.quick ? REDIS_CLUSTER_QUICK : REDIS_CLUSTER_FULL, progress),
      "lobby-scale": (progress) => lobbyScaleBench(lobbyScaleSize(values.quick ? LOBBY_SCALE_QUICK : LOBBY_SCALE_FULL), progress),
      "sockets-100k": (progress) => sockets100kBench(values.quick ? SOCKETS_100K_QUICK : SOCKETS_100K_FULL, progress, values["cpu-prof"]),
      "embedded-store": (progress) => embeddedStoreBench(values.quick ? EMBEDDED_STORE_QUICK : EMBEDDED_STORE_FULL, progress, values["cpu-prof"]),
      "store-costs": (progress) => storeCostsBench(values.quick ? STORE_COSTS_QUICK : STORE_COSTS_FULL, progress),
    };
    const bench = positionals.length === 1 ? named[positionals[0]!] : undefined;
    if (!bench) throw new Error(`unknown bench "${positionals.join(" ")}"; the named ones are ${Object.keys(named).join(", ")}`);
    const report = await bench(new ProgressLine());
    process.stdout.write(`${report}\n`);
    return;
  }
  const phases = chosenPhases(values.only);
  const when = async <T>(phase: Phase, run: () => Promise<T[]>): Promise<T[]> => (phases.has(phase) ? run() : []);
  const size = values.quick ? QUICK : FULL;
  const progress = new ProgressLine();
  progress.phase("argon2id verifications per second on all cores (the ceiling of logins/s)…");
  const argon2 = await argon2Ceiling(); // before this process is pinned to one core
  const cores = coreLayout(availableParallelism());
  const pinned = await pin(process.pid, cores.generator);
  progress.phase(`machine: ${machineDescription()}; ${pinned ? cores.description : "not pinned (taskset failed)"}`);
  const profileDir = values["cpu-prof"];
  const cluster = await BenchCluster.start(cores, profileDir ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : []);
  try {
    const sala1 = () => cluster.sala(1);
    const sala2 = () => cluster.sala(2);
    const bare1 = () => cluster.baseline(1);
    const bare2 = () => cluster.baseline(2);
    const names = Array.from({ length: size.users }, (_, i) => `bench${i}`);

    progress.phase(`registering ${names.length} users over both nodes…`);
    const registered = await registerStorm(cluster.sala(2).target, [ADMIN, ...names], 16);
    if (registered.errors > 0) throw new Error(`${registered.errors} registrations failed`);
    await cluster.grantAdmin(ADMIN); // for the nodes' per-second samples (MetricsWatch)
    const admin = (await loginStorm(cluster.sala(1).target, [ADMIN])).users[0]!;
    await cluster.pinForLogins(); // "logins/s on 2 cores"
    const { row: login, users } = await loginPhase(cluster.sala(1), names, admin, 32, progress);
    await cluster.pinServers();
    if (users.length !== names.length) throw new Error(`${names.length - users.length} logins failed`);
    const anonymous: LoadUser[] = users.map((u) => ({ username: u.username, cookie: null }));
    const usersFor = (system: System) => (system.target.kind === "sala" ? users : anonymous);

    /**
     * Opens the chat on all four systems, then runs the steps on each once per round, the systems
     * in alternating order (forwards, then backwards): returns each round's rows (rounds.ts).
     */
    const chatInRounds = async (rooms: number, steps: number[]): Promise<ChatRow[][]> => {
      const systems: System[] = [];
      const chats: ChatPhase[] = [];
      // The Sala nodes' per-second samples, for their event-loop stalls during each step.
      const nodeSamples = await MetricsWatch.open(cluster.sala(1).target, admin);
      try {
        for (const make of [sala1, sala2, bare1, bare2]) {
          const system = await make();
          systems.push(system);
          chats.push(await ChatPhase.open(system, usersFor(system), rooms, `bench${systems.length}x${rooms}-`, progress, nodeSamples));
        }
        const rounds: ChatRow[][] = [];
        for (let round = 0; round < size.chatRounds; round++) {
          const order = round % 2 === 0 ? chats : [...chats].reverse();
          const rows: ChatRow[] = [];
          for (const chat of order) rows.push(...(await chat.run(steps, size.chatStepSeconds)));
          rounds.push(rows);
        }
        await new Promise((resolve) => setTimeout(resolve, 1500)); // the samples covering the last step
        for (const chat of chats) chat.readNodeStalls();
        return rounds;
      } finally {
        await nodeSamples.close();
        for (const chat of chats) await chat.close();
        for (const system of systems) await system.stop();
      }
    };
    const bigRoomRows = combineRounds(await when("big", () => chatInRounds(1, size.bigRoomSteps)));
    const smallRooms = size.users / 4;
    const smallRoomRows = combineRounds(await when("small", () => chatInRounds(smallRooms, size.smallRoomSteps)));
    const freshSala = () => cluster.freshSala();
    const idle = (await when("idle", () => each([freshSala, bare1], (system) => idlePhase(system, usersFor(system), size.idleSteps, progress)))).flat();
    const churn = await when("churn", () => each([sala2, bare1], (system) => churnPhase(system, usersFor(system).slice(0, 200), size.churnSeconds, progress)));
    const whisper = await when("whisper", () =>
      each([sala2, bare1], (system) => whisperPhase(system, usersFor(system), size.whisperRate, size.whisperSeconds, progress)),
    );

    const results: BenchResults = {
      date: new Date().toISOString().slice(0, 16).replace("T", " ") + " UTC",
      machine: machineDescription(),
      pinning: pinned ? cores.description : null,
      quick: values.quick,
      users: size.users,
      login,
      argon2,
      registrationsPerSec: registered.perSec,
      bigRoom: { members: size.users, rows: bigRoomRows },
      smallRooms: { rooms: smallRooms, members: 4, rows: smallRoomRows },
      idle,
      churn,
      whisper,
    };
    if (values.only === undefined) await writeOutputs(results, values.out, bigRoomRows);
    else process.stdout.write(`${renderReport(results, "(chart not drawn for --only)")}\n\n(--only: ${values.out} not rewritten)\n`);
    for (const v of verdicts(results)) process.stdout.write(`${v.met ? "met   " : "MISSED"}  ${v.target}: ${v.figure}\n`);
  } finally {
    progress.done();
    await cluster.stop();
  }
}

async function writeOutputs(results: BenchResults, out: string, bigRoomRows: ChatRow[]): Promise<void> {
  const chartDir = new URL("docs/benchmarks/", ROOT);
  mkdirSync(chartDir, { recursive: true });
  const chartName = results.quick ? "latency-quick.svg" : "latency.svg";
  writeFileSync(new URL(chartName, chartDir), await latencyChart(`Delivery latency in one ${results.bigRoom.members}-member room`, bigRoomRows));
  const report = renderReport(results, `benchmarks/${chartName}`);
  writeReport(fileURLToPath(new URL(out, ROOT)), report);
  process.stdout.write(`${report}\n\nwritten: ${out}, docs/benchmarks/${chartName}\n`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
