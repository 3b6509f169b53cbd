/**
 * Faults under load, driven by the load library's resilient chat client
 * (loadtest/src/scenarios/resilient-chat.ts): 210 users in 21 rooms, one socket each through nginx
 * in front of 3 nodes, 150 messages/s in all. (a) One node is killed with SIGKILL mid-run; (b)
 * every node in turn is drained (SIGTERM) and started again. Either way, every client ends with
 * its room's complete sequence 1..maxAckedSeq, in order, each message once, and each seq is the
 * message acknowledged with it. Timings are printed ([measure]), not asserted, beyond generous
 * bounds.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ResilientChat, type ResilientChatReport } from "../../../loadtest/src/scenarios/resilient-chat.js";
import { Samples } from "../../../loadtest/src/stats.js";
import { inPool, signIn, type LoadUser, type Target } from "../../../loadtest/src/target.js";
import { ProcessCluster } from "../src/cluster.js";
import { sleep } from "../src/processes.js";
import { FAST_FAILOVER_ENV } from "./clients.js";

const USERS = 210;
const ROOMS = 21;
const RATE = 150; // messages per second, all rooms together
const SENDING_SEC = 14;
const run = Date.now().toString(36).slice(-5);
let cluster: ProcessCluster;
let target: Target;
let users: LoadUser[] = [];

beforeAll(async () => {
  cluster = await ProcessCluster.start({ nodes: 3, persistent: false, env: FAST_FAILOVER_ENV });
  target = { kind: "sala", urls: [cluster.url], origin: cluster.url };
  const names = Array.from({ length: USERS }, (_, i) => `lf${run}u${i}`);
  const t0 = Date.now();
  users = await inPool(names, 8, (name) => signIn(target, name));
  console.info(`[measure] signed in ${USERS} users in ${Date.now() - t0} ms`);
}, 180_000);

afterAll(async () => {
  await cluster?.stop();
});

/** Opens the chat, runs `fault` while it sends, settles, and returns the report (printed). */
async function underLoad(label: string, fault: () => Promise<string>): Promise<{ chat: ResilientChat; report: ResilientChatReport }> {
  const chat = await ResilientChat.open(target, users, { rooms: ROOMS, roomPrefix: `${label} ${run} ` });
  try {
    const sending = chat.send(RATE, SENDING_SEC);
    const faultLine = await fault();
    await sending;
    await chat.settle();
    const report = chat.report();
    const ms = report.reconnectMs;
    console.info(
      `[measure] ${label}: ${faultLine}; ${report.clients} clients in ${report.rooms} rooms at ${RATE} msg/s for ${SENDING_SEC} s: ` +
        `${report.acked} messages acked, ${report.failed} failed, ${report.resends} resends (same id); ` +
        `${report.reconnects} reconnects by ${report.clientsReconnected} clients, p50 ${ms.percentile(50)} ms, p95 ${ms.percentile(95)} ms, max ${ms.max()} ms, failed attempts ${JSON.stringify(report.refusals)}; ` +
        `${report.live} deliveries live, ${report.backfilled} by backfill (${report.historyRequests} history requests), ` +
        `${report.duplicatesDropped} duplicates dropped by the merge, ${report.rejoins} rejoins (${report.removedWhileConnected} after being taken out of the room while connected), ${report.tailSynced} clients synced at the end; ` +
        `${report.problems.length} verdict problems`,
    );
    return { chat, report };
  } catch (error) {
    await chat.close();
    throw error;
  }
}

/** The verdict, and a bound on reconnects generous enough for a busy 2-core machine (timings are reported, not judged). */
function expectExactlyOnceInOrder(report: ResilientChatReport, reconnectBoundMs: number): void {
  expect(report.problems).toEqual([]);
  expect(report.failed).toBe(0);
  expect(report.acked).toBe(report.sent);
  expect(report.reconnectMs.max()).toBeLessThan(reconnectBoundMs);
}

describe("faults under load (210 clients through nginx, 3 nodes)", () => {
  it("SIGKILL of one node: its clients reconnect and every client ends with its rooms' messages complete, in order, once", async () => {
    const victim = cluster.nodes[1]!;
    let killedAt = 0;
    const { chat, report } = await underLoad("SIGKILL", async () => {
      await sleep(5000);
      killedAt = Date.now();
      await victim.kill();
      return `${victim.id} killed 5 s in`;
    });
    try {
      const moved = chat.members.filter((member) => member.disconnectedAt.some((at) => at >= killedAt));
      // Kill → connected again, for the clients of the killed node (their first reconnect after it).
      const sinceKill = new Samples();
      for (const member of moved) {
        const i = member.disconnectedAt.findIndex((at) => at >= killedAt);
        sinceKill.add(member.disconnectedAt[i]! + (member.reconnectMs[i] ?? Infinity) - killedAt);
      }
      console.info(
        `[measure] SIGKILL: ${moved.length} clients moved off ${victim.id}; kill → connected again p50 ${sinceKill.percentile(50)} ms, ` +
          `p95 ${sinceKill.percentile(95)} ms, max ${sinceKill.max()} ms`,
      );
      expectExactlyOnceInOrder(report, 15_000);
      expect(moved.length).toBeGreaterThan(USERS / 6); // least_conn spread them over 3 nodes
      expect(moved.every((member) => member.connected)).toBe(true);
      expect(sinceKill.max()).toBeLessThan(15_000);
    } finally {
      await chat.close();
      await victim.start();
    }
  }, 90_000);

  it("rolling restart of every node: every client ends with its rooms' messages complete, in order, once", async () => {
    const stopMs: number[] = [];
    const startMs: number[] = [];
    const { chat, report } = await underLoad("rolling restart", async () => {
      await sleep(2000);
      for (const node of cluster.nodes) {
        const stopping = Date.now();
        await node.stop();
        const starting = Date.now();
        await node.start();
        stopMs.push(starting - stopping);
        startMs.push(Date.now() - starting);
        await sleep(1000);
      }
      return `3 nodes drained and restarted in turn (drain+exit ${stopMs.join("/")} ms, start ${startMs.join("/")} ms)`;
    });
    try {
      // A node starting on a machine this busy can take 5–16 s, and 70 handshakes at once queue up.
      expectExactlyOnceInOrder(report, 30_000);
      // Every client was on some node when that node drained.
      expect(chat.members.filter((member) => member.reconnects === 0).map((member) => member.user.username)).toEqual([]);
    } finally {
      await chat.close();
    }
  }, 90_000);
});
