/**
 * Issue 18, items 5 and 7: the Redis primary that owns an active room's slot is SIGKILLed while
 * its members chat through two Sala node processes on a Redis Cluster (3 primaries, 1 replica
 * each, cluster-node-timeout 2000 ms). Its replica is promoted, and the dead server is started
 * again a moment later (it rejoins as a replica); meanwhile the room's messages are refused
 * (UNAVAILABLE) and retried by the senders with the same message id.
 *
 * Always: no node dies or logs an unhandled rejection, the room takes messages again, and each
 * client's seqs have no gap once it asked history for the ones it missed. With
 * REDIS_WAIT_REPLICAS=1 also: every acknowledged message is in history under its acked seq, and
 * no seq stands for two messages among everything acked, delivered or stored. Without it, what
 * the asynchronous replication lost is measured and printed, not asserted: that is the documented
 * window.
 */
import { createInterface } from "node:readline";
import { afterEach, describe, expect, it } from "vitest";
import { Cluster } from "ioredis";
import type { RoomMessage } from "@sala/protocol";
import { encryptText } from "@sala/protocol/envelope";
import { ProcessCluster } from "../src/cluster.js";
import { ask, FAST_FAILOVER_ENV, populateRooms, type TestClient } from "./clients.js";

const NODE_TIMEOUT_MS = 2000;
const SEND_PAUSE_MS = 40;

interface Acked {
  cipher: string;
  seq: number;
  at: number;
}

interface Outcome {
  acked: Acked[];
  /** When a send was answered with an error or not at all (then retried with the same id). */
  refusedAt: number[];
  /** Every live `text` any client received (before deduplication by seq). */
  delivered: RoomMessage[];
  /** Log entries of the nodes at error level or above, and unhandled rejections. */
  nodeErrors: Array<Record<string, unknown>>;
}

let cluster: ProcessCluster | null = null;
let clients: TestClient[] = [];

afterEach(async () => {
  for (const client of clients) client.socket.close();
  clients = [];
  await cluster?.stop();
  cluster = null;
});

/** The port of the primary that owns `hashTag`'s slot, asked of the cluster itself. */
async function primaryOf(startNodes: Array<{ host: string; port: number }>, hashTag: string): Promise<number> {
  const admin = new Cluster(startNodes, { clusterRetryStrategy: () => null });
  admin.on("error", () => undefined);
  try {
    const slot = Number(await admin.call("CLUSTER", "KEYSLOT", hashTag));
    const ranges = (await admin.call("CLUSTER", "SLOTS")) as Array<[number, number, [string, number]]>;
    const owner = ranges.find(([from, to]) => slot >= from && slot <= to);
    if (!owner) throw new Error(`no primary owns slot ${slot}`);
    return Number(owner[2][1]);
  } finally {
    admin.disconnect();
  }
}

/** Sends numbered messages until `stop()`, each retried with its id until acknowledged. */
async function chat(client: TestClient, key: { id: number; key: string }, outcome: Outcome, stopped: () => boolean): Promise<void> {
  const roomId = client.roomId!;
  for (let n = 0; !stopped(); n++) {
    const cipher = encryptText(`${client.username} #${n}`, roomId, key);
    // Unique per sender (ids are scoped by sender): a repeated id would be answered as a repeat.
    const id = `msg${String(n).padStart(8, "0")}`;
    for (let attempt = 0; attempt < 100; attempt++) {
      const ack = await ask(client.socket, "text", { roomId, msg: cipher, id }, 4000).catch(() => null);
      if (ack?.ok) {
        outcome.acked.push({ cipher, seq: ack.seq, at: Date.now() });
        break;
      }
      outcome.refusedAt.push(Date.now());
      // The nodes' error lines say what the client's INTERNAL hides (seen once in CI, session 15).
      if (ack && ack.error?.code !== "UNAVAILABLE") throw new Error(`send refused: ${JSON.stringify(ack)}; node errors: ${JSON.stringify(outcome.nodeErrors.slice(-3))}`);
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
    await new Promise((resolve) => setTimeout(resolve, SEND_PAUSE_MS));
  }
}

/** The room's whole stored history, oldest first. */
async function wholeHistory(client: TestClient): Promise<RoomMessage[]> {
  const all: RoomMessage[] = [];
  for (let afterSeq = 0; ; ) {
    const page = await ask(client.socket, "history", { roomId: client.roomId, afterSeq, limit: 200 });
    if (!page.ok) throw new Error(`history: ${JSON.stringify(page)}`);
    all.push(...(page.messages as RoomMessage[]));
    if (page.messages.length < 200) return all;
    afterSeq = all.at(-1)!.seq;
  }
}

/** Fills the client's gaps as the protocol says (history after the last seq held before each). */
async function fillGaps(client: TestClient, lastSeq: number): Promise<number> {
  const held = () => new Set(client.received.map((message) => message.seq));
  let gaps = 0;
  for (let seq = 1; seq <= lastSeq; seq++) {
    if (held().has(seq)) continue;
    gaps++;
    const page = await ask(client.socket, "history", { roomId: client.roomId, afterSeq: seq - 1, limit: 200 });
    const have = held();
    for (const message of (page.messages ?? []) as RoomMessage[]) {
      if (!have.has(message.seq)) client.received.push(message);
    }
  }
  return gaps;
}

async function runFailover(waitReplicas: number) {
  cluster = await ProcessCluster.start({
    nodes: 2,
    persistent: false,
    redisCluster: 3,
    redisNodeTimeoutMs: NODE_TIMEOUT_MS,
    env: { ...FAST_FAILOVER_ENV, REDIS_WAIT_REPLICAS: String(waitReplicas), REDIS_WAIT_TIMEOUT_MS: "500" },
  });
  const outcome: Outcome = { acked: [], refusedAt: [], delivered: [], nodeErrors: [] };
  for (const node of cluster.nodes) {
    createInterface({ input: node.process.stdout! }).on("line", (line) => {
      try {
        const entry = JSON.parse(line) as Record<string, unknown>;
        if (Number(entry.level) >= 50 || entry.event === "unhandled_rejection") outcome.nodeErrors.push(entry);
      } catch {
        // not a log line
      }
    });
  }
  const populated = await populateRooms(cluster.url, `fo${waitReplicas}`, 6, 1);
  clients = populated.clients;
  const [roomId, key] = [...populated.keys][0]!;
  for (const client of clients) client.socket.on("text", (message) => outcome.delivered.push(message));

  let stop = false;
  const senders = clients.map((client) => chat(client, key, outcome, () => stop));
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const redis = cluster.redisCluster!;
  const victimPort = await primaryOf(redis.startNodes, `{room:${roomId}}`);
  const victim = redis.members.find((member) => member.options.port === victimPort)!;
  const ackedBeforeKill = outcome.acked.length;
  const killedAt = Date.now();
  await victim.kill();
  // The operator brings the dead server back once its replica was promoted: it rejoins as the
  // new primary's replica. With one replica per primary, that is what WAIT 1 waits for — the
  // promoted primary has no replica until then. Waiting for the promotion itself, not a fixed
  // time: on a loaded machine the election took longer than 2 × cluster-node-timeout, the empty
  // (non-persistent) server came back first as the slot's primary, and the room was gone.
  await new Promise((resolve) => setTimeout(resolve, 2 * NODE_TIMEOUT_MS));
  await expect
    .poll(() => primaryOf(redis.startNodes.filter((node) => node.port !== victimPort), `{room:${roomId}}`).catch(() => victimPort), { timeout: 30_000, interval: 250 })
    .not.toBe(victimPort);
  await victim.start();
  const restartedAt = Date.now();
  // Until messages flow again for a while.
  await expect.poll(() => outcome.acked.filter((ack) => ack.at > restartedAt).length, { timeout: 20_000, interval: 200 }).toBeGreaterThan(40);
  stop = true;
  await Promise.all(senders);
  await new Promise((resolve) => setTimeout(resolve, 1500)); // the last live deliveries and backfills

  // No node crashed, both still answer, nothing failed unobserved.
  for (const node of cluster.nodes) {
    expect(node.running).toBe(true);
    expect((await fetch(`${node.url}/healthz`)).status).toBe(200);
  }
  expect(outcome.nodeErrors.filter((entry) => entry.event === "unhandled_rejection")).toEqual([]);

  const history = await wholeHistory(clients[0]!);
  const stored = new Map(history.map((message) => [message.seq, message.msg]));
  const lastSeq = history.at(-1)!.seq;
  // History itself has no hole: the promoted primary numbers on from what it holds.
  expect(history.map((message) => message.seq)).toEqual(Array.from({ length: history.length }, (_, i) => i + 1));

  // Every client holds every seq once it asked for the ones it missed.
  const gapsLeft = [];
  for (const client of clients) gapsLeft.push(await fillGaps(client, lastSeq));
  for (const client of clients) {
    const held = new Set(client.received.map((message) => message.seq));
    expect(Array.from({ length: lastSeq }, (_, i) => i + 1).filter((seq) => !held.has(seq))).toEqual([]);
  }

  // What the failover did to acknowledged and delivered messages.
  const lost = outcome.acked.filter((ack) => !history.some((message) => message.msg === ack.cipher));
  const renumbered = outcome.acked.filter((ack) => stored.get(ack.seq) !== ack.cipher);
  const meanings = new Map<number, Set<string>>();
  for (const { seq, msg } of [...outcome.acked.map(({ seq, cipher }) => ({ seq, msg: cipher })), ...outcome.delivered, ...history]) {
    meanings.set(seq, (meanings.get(seq) ?? new Set()).add(msg));
  }
  const reused = [...meanings].filter(([, msgs]) => msgs.size > 1).map(([seq]) => seq);
  const firstRefused = outcome.refusedAt.find((at) => at >= killedAt);
  const firstBack = firstRefused === undefined ? undefined : outcome.acked.find((ack) => ack.at > firstRefused)?.at;
  const ackTimes = outcome.acked.map((ack) => ack.at).filter((at) => at >= killedAt - 1000);
  const longestSilence = Math.max(...ackTimes.slice(1).map((at, i) => at - ackTimes[i]!));
  console.info(
    `[measure] Redis Cluster failover, cluster-node-timeout ${NODE_TIMEOUT_MS} ms, REDIS_WAIT_REPLICAS=${waitReplicas}: ` +
      `write outage ${firstRefused === undefined || firstBack === undefined ? "none seen" : `${firstBack - firstRefused} ms (first refused → first accepted)`}, ` +
      `longest gap between acks ${longestSilence} ms (the dead primary restarted ${restartedAt - killedAt} ms after the kill); ${outcome.acked.length} acked (${ackedBeforeKill} before the kill), ` +
      `${outcome.refusedAt.length} attempts refused or unanswered (retried), ${lost.length} acked and lost, ${renumbered.length} acked and renumbered, ` +
      `${reused.length} seqs reused, ${outcome.delivered.length} live deliveries, client gaps filled from history ${gapsLeft.join("/")}, ` +
      `${history.length} messages in history; node error logs ${outcome.nodeErrors.length}`,
  );
  if (lost.length > 0) {
    console.info(`[diag] lost seqs ${lost.map((ack) => `${ack.seq}@${ack.at - killedAt}ms`).join(" ")}; history seqs ${history[0]?.seq}..${lastSeq}`);
  }
  return { lost, renumbered, reused };
}

describe("SIGKILL of the primary that owns an active room's slot", () => {
  it("with REDIS_WAIT_REPLICAS=1: no acked message lost or renumbered, no seq reused, no gap, no crash", async () => {
    const { lost, renumbered, reused } = await runFailover(1);
    expect(lost).toEqual([]);
    expect(renumbered).toEqual([]);
    expect(reused).toEqual([]);
  }, 90_000);

  it("without WAIT: no crash and no gap; what was lost is measured (the documented window)", async () => {
    await runFailover(0);
  }, 90_000);
});
