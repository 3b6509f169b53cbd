/**
 * `npm run bench -- redis-cluster`: Sala on one redis-server beside Sala on a Redis Cluster of 3
 * primaries + 3 replicas, in one run (issue 18), and Sala on that same cluster again with
 * REDIS_WAIT_REPLICAS=1 (its own prefix, so its own data), to price that guarantee per message.
 * Each store gets its own two Sala nodes, its own users and the same load, the three measured in
 * interleaved rounds (rounds.ts says why):
 *
 * - handshakes: sockets opened by logged-in users, timed, with the Redis CPU each one costs per
 *   server (the lobby, presence and session keys live on one shard: `{global}` and the users' own
 *   slots);
 * - small-room chat: 4-member rooms, spread over the hash slots by their ids, at a fixed rate; the
 *   Redis CPU per message on the one server, and per shard in the cluster (each primary's share,
 *   and what its replica pays to follow it), with sent/acked/delivered/lost counts.
 *
 * Redis CPU comes from each server's INFO (redis-probe.ts). Every server idles at some CPU
 * (cron, the cluster bus' gossip, the nodes' heartbeats); it is measured first and shown, and the
 * "net" figures take it out. Prints markdown tables; writes nothing.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { NodeProcess } from "@sala/cluster/node";
import { freePort, sleep } from "@sala/cluster/processes";
import { RedisProcess } from "@sala/cluster/redis";
import { RedisClusterProcess } from "@sala/cluster/redis-cluster";
import type { ProgressLine } from "../driver/progress.js";
import { loginStorm, registerStorm } from "../scenarios/login-storm.js";
import { RoomChat, type ChatStepResult } from "../scenarios/room-chat.js";
import type { SioClient } from "../sio-client.js";
import { Samples } from "../stats.js";
import { connect, inPool, type LoadUser, type Target } from "../target.js";
import { coreLayout, type CoreLayout } from "./cores.js";
import { CpuMeter, machineDescription, pin } from "./machine.js";
import { RedisProbe, type Reading, type RedisServer } from "./redis-probe.js";
import { benchNodeEnv, ORIGIN } from "./systems.js";

export interface RedisClusterBenchSize {
  /** Users per store, 4 to a room. */
  users: number;
  messagesPerSec: number;
  stepSeconds: number;
  rounds: number;
}

export const REDIS_CLUSTER_FULL: RedisClusterBenchSize = { users: 400, messagesPerSec: 1000, stepSeconds: 6, rounds: 3 };
export const REDIS_CLUSTER_QUICK: RedisClusterBenchSize = { users: 80, messagesPerSec: 200, stepSeconds: 2, rounds: 2 };

/** Extra sockets opened at once in the handshake step: enough to queue a little, not to time the queue alone. */
const HANDSHAKE_CONCURRENCY = 20;
const IDLE_SECONDS = 4;

/** One store under test: its Redis servers, its two Sala nodes, its users, its open chat. */
interface Store {
  label: string;
  probe: RedisProbe;
  nodes: NodeProcess[];
  target: Target;
  users: LoadUser[];
  chat: RoomChat | null;
  /** Each server's CPU while nothing is asked of it (ms per second of wall time). */
  idleMsPerSec: Map<number, number>;
  handshakes: Measured & { count: number; errors: number; latency: Samples };
  messages: Measured & { results: ChatStepResult[]; redisUsPerRound: number[] };
}

/** CPU and commands summed over the rounds, with the wall time they were measured over. */
interface Measured {
  wallMs: number;
  nodeCpuMs: number;
  redis: Reading;
}

const emptyMeasured = (): Measured => ({ wallMs: 0, nodeCpuMs: 0, redis: new Map() });

function addReading(into: Reading, delta: Reading): void {
  for (const [port, d] of delta) {
    const sum = into.get(port) ?? { cpuMs: 0, commands: 0 };
    into.set(port, { cpuMs: sum.cpuMs + d.cpuMs, commands: sum.commands + d.commands });
  }
}

/** Runs `work` with the nodes' CPU and every Redis server's CPU and commands measured around it. */
async function measure<T>(store: Store, into: Measured, work: () => Promise<T>): Promise<{ value: T; redisMs: number }> {
  const nodes = new CpuMeter(store.nodes.map((node) => node.process.pid!));
  const before = await store.probe.read();
  await nodes.start();
  const start = Date.now();
  const value = await work();
  into.wallMs += Date.now() - start;
  into.nodeCpuMs += await nodes.stop();
  const delta = store.probe.delta(before, await store.probe.read());
  addReading(into.redis, delta);
  return { value, redisMs: [...delta.values()].reduce((sum, d) => sum + d.cpuMs, 0) };
}

async function startStore(label: string, id: string, probe: RedisProbe, storeEnv: Record<string, string>, cores: CoreLayout): Promise<Store> {
  const env = {
    ...storeEnv,
    REDIS_PREFIX: `rc${randomBytes(3).toString("hex")}`,
    SESSION_SECRET: randomBytes(32).toString("base64url"),
    ...benchNodeEnv(cores),
  };
  const nodes = [new NodeProcess(`${id}-1`, await freePort(), env), new NodeProcess(`${id}-2`, await freePort(), env)];
  const store: Store = {
    label,
    probe,
    nodes,
    target: { kind: "sala", urls: [], origin: ORIGIN },
    users: [],
    chat: null,
    idleMsPerSec: new Map(),
    handshakes: { ...emptyMeasured(), count: 0, errors: 0, latency: new Samples() },
    messages: { ...emptyMeasured(), results: [], redisUsPerRound: [] },
  };
  try {
    await Promise.all(nodes.map((node) => node.start()));
  } catch (error) {
    await stopStore(store);
    throw error;
  }
  store.target = { kind: "sala", urls: nodes.map((node) => node.url), origin: ORIGIN };
  return store;
}

async function stopStore(store: Store): Promise<void> {
  await store.chat?.close().catch(() => undefined);
  await Promise.allSettled(store.nodes.map((node) => node.stop()));
  store.probe.close();
}

/** Redis on its core, the nodes on theirs (on 2 cores: all of them on core 0, the generator on core 1). */
async function pinStore(store: Store, cores: CoreLayout, nodeCores?: string): Promise<void> {
  for (const server of store.probe.servers) await pin(server.pid, cores.redis);
  for (const [index, node] of store.nodes.entries()) await pin(node.process.pid!, nodeCores ?? cores.server(index));
}

/** Opens `store.users.length` more sockets (a second tab per user), timed one by one; then closes them. */
async function handshakeStep(store: Store): Promise<void> {
  const opened: SioClient[] = [];
  const { users, target } = store;
  try {
    await measure(store, store.handshakes, () =>
      inPool(users, HANDSHAKE_CONCURRENCY, async (user, i) => {
        const t0 = Date.now();
        try {
          opened.push(await connect(target, user, target.urls[i % target.urls.length]!, { attempts: 1 }));
          store.handshakes.latency.add(Date.now() - t0);
        } catch {
          store.handshakes.errors++;
        }
      }),
    );
    store.handshakes.count += users.length;
  } finally {
    await Promise.all(opened.map((client) => client.close()));
  }
}

async function chatStep(store: Store, size: RedisClusterBenchSize, warm: boolean, progress: ProgressLine): Promise<void> {
  const chat = store.chat!;
  await chat.step(size.messagesPerSec, warm ? 1 : 2); // warm-up: JIT, adapter subscriptions
  const { value: result, redisMs } = await measure(store, store.messages, () =>
    chat.step(size.messagesPerSec, size.stepSeconds, (p) => progress.update(`${store.label} · ${size.messagesPerSec} msg/s · ${Math.round(p.elapsedSec)} s · acked ${p.acked}`)),
  );
  progress.done();
  store.messages.results.push(result);
  store.messages.redisUsPerRound.push((redisMs * 1000) / Math.max(1, result.acked));
}

async function idleFloor(store: Store): Promise<void> {
  const before = await store.probe.read();
  await sleep(IDLE_SECONDS * 1000);
  for (const [port, d] of store.probe.delta(before, await store.probe.read())) store.idleMsPerSec.set(port, d.cpuMs / IDLE_SECONDS);
}

export async function redisClusterBench(size: RedisClusterBenchSize, progress: ProgressLine): Promise<string> {
  const cores = coreLayout(availableParallelism());
  const pinned = await pin(process.pid, cores.generator);
  progress.phase(`machine: ${machineDescription()}; ${pinned ? cores.description : "not pinned (taskset failed)"}`);
  const dir = mkdtempSync(join(tmpdir(), "sala-bench-rc-"));
  const single = new RedisProcess({ port: await freePort(), dir, persistent: false });
  const stores: Store[] = [];
  let cluster: RedisClusterProcess | null = null;
  try {
    progress.phase("starting one redis-server and a Redis Cluster of 3 primaries + 3 replicas…");
    await single.start();
    cluster = await RedisClusterProcess.create({ primaries: 3, replicasPerPrimary: 1, dir, persistent: false });
    await cluster.start();
    const ports = cluster.members.map((member) => member.options.port);
    stores.push(await startStore("one Redis", "single", await RedisProbe.single(single.options.port), { REDIS_URL: single.url }, cores));
    stores.push(await startStore("Redis Cluster 3+3", "cluster", await RedisProbe.cluster(ports), { REDIS_CLUSTER_NODES: cluster.seeds }, cores));
    // Same servers, a prefix of its own (startStore draws one per store): only the WAIT differs.
    // Its rounds never overlap the other cluster store's, so each one's CPU readings are its own.
    const waitEnv = { REDIS_CLUSTER_NODES: cluster.seeds, REDIS_WAIT_REPLICAS: "1" };
    stores.push(await startStore("Redis Cluster 3+3, WAIT 1", "cluster-wait", await RedisProbe.cluster(ports), waitEnv, cores));

    const names = Array.from({ length: size.users }, (_, i) => `rcbench${i}`);
    for (const store of stores) {
      progress.phase(`${store.label}: registering and logging in ${names.length} users…`);
      await pinStore(store, cores, cores.logins); // argon2 on both cores, as run.ts does for logins
      const registered = await registerStorm(store.target, names, 16);
      if (registered.errors > 0) throw new Error(`${store.label}: ${registered.errors} registrations failed`);
      const { result, users } = await loginStorm(store.target, names, 16);
      if (result.errors > 0) throw new Error(`${store.label}: ${result.errors} logins failed`);
      store.users = users;
      await pinStore(store, cores);
    }
    progress.phase(`idle CPU of every Redis server (${IDLE_SECONDS} s, all nodes up, no clients)…`);
    await Promise.all(stores.map(idleFloor));
    for (const store of stores) {
      progress.phase(`${store.label}: ${names.length} users into ${names.length / 4} rooms of 4…`);
      store.chat = await RoomChat.open(store.target, store.users, names.length / 4, "rc-");
    }
    for (let round = 0; round < size.rounds; round++) {
      for (const store of round % 2 === 0 ? stores : [...stores].reverse()) {
        progress.phase(`round ${round + 1}/${size.rounds}, ${store.label}: ${store.users.length} handshakes, then ${size.messagesPerSec} msg/s for ${size.stepSeconds} s…`);
        await handshakeStep(store);
        await chatStep(store, size, round > 0, progress);
      }
    }
    return report(stores, size, pinned ? cores.description : "not pinned");
  } finally {
    progress.done();
    for (const store of stores) await stopStore(store);
    await cluster?.stop();
    await single.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `n` rounded for the tables ("0", never "-0": a server's net CPU can dip just under its idle floor). */
function fixed(n: number, digits = 0): string {
  if (!Number.isFinite(n)) return "–";
  const rounded = Number(n.toFixed(digits));
  return (rounded === 0 ? 0 : rounded).toFixed(digits);
}

function report(stores: Store[], size: RedisClusterBenchSize, pinning: string): string {
  const lines: string[] = [];
  lines.push(`Machine: ${machineDescription()}; ${pinning}.`);
  lines.push(
    `Per store: 2 Sala nodes, ${size.users} users in ${size.users / 4} rooms of 4, ${size.messagesPerSec} msg/s for ${size.stepSeconds} s and ${size.users} handshakes per round, ${size.rounds} interleaved rounds (figures pooled over the rounds).`,
  );
  lines.push("", "**Small-room chat**", "");
  lines.push("| store | sent | acked | failed | delivered / expected | lost | dup | ack p50 / p99 ms | nodes µs/msg | Redis µs/msg (net of idle) | net: primaries / replicas | Redis µs/msg by round |");
  lines.push("|---|---|---|---|---|---|---|---|---|---|---|---|");
  for (const store of stores) {
    const m = store.messages;
    const sum = (pick: (r: ChatStepResult) => number) => m.results.reduce((total, r) => total + pick(r), 0);
    const ack = new Samples();
    for (const r of m.results) ack.addAll(r.ackRtt);
    const acked = Math.max(1, sum((r) => r.acked));
    const { raw, net } = redisTotals(store, m);
    const byRole = netByRole(store, m);
    const roles = store.probe.servers.some((server) => server.role === "replica") ? `${fixed((byRole.primary * 1000) / acked)} / ${fixed((byRole.replica * 1000) / acked)}` : "–";
    lines.push(
      `| ${store.label} | ${sum((r) => r.sent)} | ${sum((r) => r.acked)} | ${sum((r) => r.failed)} | ${sum((r) => r.deliveries)} / ${sum((r) => r.expected)} | ${sum((r) => r.lost)} | ${sum((r) => r.duplicates)} | ${ack.percentile(50)} / ${ack.percentile(99)} | ${fixed((m.nodeCpuMs * 1000) / acked)} | ${fixed((raw * 1000) / acked)} (${fixed((net * 1000) / acked)}) | ${roles} | ${m.redisUsPerRound.map((v) => fixed(v)).join(" / ")} |`,
    );
  }
  lines.push("", "**Handshakes** (a second socket for each logged-in user, " + HANDSHAKE_CONCURRENCY + " at a time)", "");
  lines.push("| store | handshakes | errors | ms each p50 / p99 | handshakes/s | nodes ms CPU each | Redis µs each (net of idle) |");
  lines.push("|---|---|---|---|---|---|---|");
  for (const store of stores) {
    const h = store.handshakes;
    const ok = Math.max(1, h.count - h.errors);
    const { raw, net } = redisTotals(store, h);
    lines.push(
      `| ${store.label} | ${h.count} | ${h.errors} | ${h.latency.percentile(50)} / ${h.latency.percentile(99)} | ${fixed(ok / (h.wallMs / 1000))} | ${fixed(h.nodeCpuMs / ok, 2)} | ${fixed((raw * 1000) / ok)} (${fixed((net * 1000) / ok)}) |`,
    );
  }
  lines.push("", "**Per Redis server** (net of its idle CPU; share: of the store's Redis CPU for that work)", "");
  lines.push("| store | server | slots | idle ms CPU/s | µs/msg | share | commands/msg | µs/handshake | share | commands/handshake |");
  lines.push("|---|---|---|---|---|---|---|---|---|---|");
  for (const store of stores) {
    const acked = Math.max(1, store.messages.results.reduce((total, r) => total + r.acked, 0));
    const ok = Math.max(1, store.handshakes.count - store.handshakes.errors);
    const msgNet = netByServer(store, store.messages);
    const hsNet = netByServer(store, store.handshakes);
    const msgTotal = [...msgNet.values()].reduce((a, b) => a + b, 0);
    const hsTotal = [...hsNet.values()].reduce((a, b) => a + b, 0);
    for (const server of store.probe.servers) {
      const share = (part: number, whole: number) => `${fixed((100 * part) / whole)} %`;
      lines.push(
        `| ${store.label} | ${server.label} | ${server.slots} | ${fixed(store.idleMsPerSec.get(server.port) ?? Number.NaN, 1)} | ${fixed((msgNet.get(server.port)! * 1000) / acked)} | ${share(msgNet.get(server.port)!, msgTotal)} | ${fixed(store.messages.redis.get(server.port)!.commands / acked, 2)} | ${fixed((hsNet.get(server.port)! * 1000) / ok)} | ${share(hsNet.get(server.port)!, hsTotal)} | ${fixed(store.handshakes.redis.get(server.port)!.commands / ok, 2)} |`,
      );
    }
  }
  return lines.join("\n");
}

/** Each server's CPU (ms) over the measured windows, less what it burns idle over the same time. */
function netByServer(store: Store, measured: Measured): Map<number, number> {
  return new Map(
    store.probe.servers.map(({ port }) => [port, measured.redis.get(port)!.cpuMs - (store.idleMsPerSec.get(port) ?? 0) * (measured.wallMs / 1000)]),
  );
}

/** Net CPU (ms) of the primaries and of the replicas: WAIT's cost lands on both sides. */
function netByRole(store: Store, measured: Measured): Record<RedisServer["role"], number> {
  const net = netByServer(store, measured);
  const totals = { primary: 0, replica: 0 };
  for (const server of store.probe.servers) totals[server.role] += net.get(server.port)!;
  return totals;
}

function redisTotals(store: Store, measured: Measured): { raw: number; net: number } {
  const raw = [...measured.redis.values()].reduce((sum, d) => sum + d.cpuMs, 0);
  const net = [...netByServer(store, measured).values()].reduce((a, b) => a + b, 0);
  return { raw, net };
}
