/**
 * No Redis error at any moment may crash a node (issue 17, item 5). Two nodes behind nginx take a
 * steady stream of logins, session reads and socket handshakes while Redis is frozen (SIGSTOP: a
 * stalled primary, commands time out), let go (SIGCONT), then killed (SIGKILL: commands fail at
 * once) and restarted from its AOF. Requests that start while Redis is away may fail, with an error;
 * requests in flight when it goes away fail between their Redis steps (a login saves its session at
 * the end of its response, a session read renews it there). Every node process stays up
 * throughout, and logins, session reads and handshakes work again on every node once Redis is back.
 */
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { io } from "socket.io-client";
import { ProcessCluster } from "../src/cluster.js";
import { sleep } from "../src/processes.js";
import { inBatches, PASSWORD, registerAndLogin } from "./clients.js";
import { describeTallies, SteadyTraffic } from "./steady-traffic.js";

const USERS = 24;
/** Per second, through nginx: enough logins that some are always between their Redis steps. */
const RATES = { login: 30, session: 30, handshake: 10 };
const FROZEN_MS = 5000; // more than the command timeout (2 s): hung commands time out meanwhile
const DEAD_MS = 3000;

let cluster: ProcessCluster;
const exits: string[] = [];
/** Log lines of every node, by event name. */
const events = new Map<string, number>();

beforeAll(async () => {
  cluster = await ProcessCluster.start({
    nodes: 2,
    persistent: true, // Redis comes back from its AOF after the SIGKILL, as in compose
    env: {
      REGISTRATIONS_PER_IP: "100000",
      // Logins interrupted between throttle steps must not lock the test's users or address out.
      LOGIN_MAX_FAILS_PER_IP: "100000",
      LOGIN_MAX_FAILS_PER_USER: "100000",
      // The session keeper renews the sessions of open sockets every 10 s (idle timeout / 3).
      SESSION_IDLE_TIMEOUT_SEC: "30",
    },
  });
  for (const node of cluster.nodes) {
    node.process.once("exit", (code, signal) => exits.push(`${node.id} exited (code ${code}, signal ${signal})`));
    createInterface({ input: node.process.stdout! }).on("line", (line) => {
      try {
        const event = (JSON.parse(line) as { event?: unknown }).event;
        if (typeof event === "string") events.set(event, (events.get(event) ?? 0) + 1);
      } catch {
        // not a log line
      }
    });
  }
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
});

/** Waits until `ok()` after `since`, polling; returns the ms it took (Infinity past `timeoutMs`, or with no node left). */
async function recoveredWithin(since: number, ok: () => boolean, timeoutMs: number): Promise<number> {
  while (Date.now() - since < timeoutMs && cluster.nodes.some((node) => node.running)) {
    if (ok()) return Date.now() - since;
    await sleep(50);
  }
  return Infinity;
}

async function loginAt(url: string, username: string): Promise<{ status: number; cookie: string | undefined }> {
  const response = await fetch(`${url}/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username, password: PASSWORD }),
    signal: AbortSignal.timeout(5000),
  });
  await response.arrayBuffer();
  return { status: response.status, cookie: response.headers.get("set-cookie")?.split(";")[0] };
}

async function timedStatus(url: string): Promise<{ status: number; ms: number }> {
  const started = performance.now();
  const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
  await response.arrayBuffer();
  return { status: response.status, ms: Math.round(performance.now() - started) };
}

function handshakeAt(url: string, cookie: string): Promise<boolean> {
  const socket = io(url, { transports: ["websocket"], extraHeaders: { cookie }, reconnection: false, forceNew: true, timeout: 5000 });
  return new Promise<boolean>((resolve) => {
    socket.once("connect", () => resolve(true));
    socket.once("connect_error", () => resolve(false));
  }).finally(() => socket.close());
}

describe("Redis errors under a steady load of logins, session reads and handshakes", () => {
  it("crash no node: every node stays up through SIGSTOP, SIGCONT, SIGKILL and a restart, and serves again", async () => {
    const run = Date.now().toString(36).slice(-5);
    const names = Array.from({ length: USERS }, (_, i) => `rf${run}u${i}`);
    const cookies = await inBatches(names, 6, (name) => registerAndLogin(cluster.url, name));
    // Sockets that stay open: the session keeper renews their sessions in Redis throughout.
    const open = await Promise.all(
      cookies.slice(0, 4).map((cookie) => io(cluster.url, { transports: ["websocket"], extraHeaders: { cookie }, forceNew: true })),
    );
    // Every account is on disk (AOF, fsync every second) before Redis is killed.
    await sleep(1500);

    const alive = { samples: 0, allUp: 0 };
    const watch = setInterval(() => {
      alive.samples++;
      if (cluster.nodes.every((node) => node.running)) alive.allUp++;
    }, 100);
    const traffic = new SteadyTraffic(cluster.url, names, cookies);
    const figures: string[] = [];
    let thawRecoveryMs = Infinity;
    let restartRecoveryMs = Infinity;
    let readiness: Array<{ status: number; ms: number }> = [];
    try {
      traffic.phase("1 before");
      traffic.start(RATES);
      await sleep(3000);

      traffic.phase("2 frozen (SIGSTOP)");
      cluster.redis.freeze();
      await sleep(FROZEN_MS / 2);
      // Load balancers and kubelets ask every node, and wait about 500 ms for an answer.
      readiness = await Promise.all(cluster.nodes.map((node) => timedStatus(`${node.url}/readyz`)));
      figures.push(`/readyz while frozen: ${readiness.map((probe, i) => `${cluster.nodes[i]!.id} ${probe.status} in ${probe.ms} ms`).join(", ")}`);
      await sleep(FROZEN_MS / 2);
      traffic.phase("3 after SIGCONT");
      const thawedAt = Date.now();
      cluster.redis.resume();
      thawRecoveryMs = await recoveredWithin(thawedAt, () => traffic.lastLoginOkAt > thawedAt, 15_000);
      figures.push(`first login ok ${thawRecoveryMs} ms after SIGCONT`);
      await sleep(3000);

      traffic.phase("4 killed (SIGKILL)");
      await cluster.redis.kill();
      await sleep(DEAD_MS);
      traffic.phase("5 restarted");
      const restartedAt = Date.now();
      await cluster.redis.start();
      const redisUpMs = Date.now() - restartedAt;
      restartRecoveryMs = await recoveredWithin(restartedAt, () => traffic.lastLoginOkAt > restartedAt, 15_000);
      figures.push(`redis-server answered ${redisUpMs} ms after its restart began, the first login ok ${restartRecoveryMs} ms after`);
      await sleep(2000);
      traffic.phase("6 recovered");
      await sleep(4000);
    } finally {
      clearInterval(watch);
      await traffic.stop();
      for (const socket of open) socket.close();
      const tallies = describeTallies(traffic.report());
      const logged = ["session_store_failed", "session_renew_failed", "request_failed", "unhandled_rejection"].map((name) => `${name} ${events.get(name) ?? 0}`);
      console.info(
        `[measure] Redis errors under load (2 nodes behind nginx, per second: ${RATES.login} logins, ${RATES.session} session reads, ${RATES.handshake} handshakes; ` +
          `frozen ${FROZEN_MS} ms, dead ${DEAD_MS} ms): nodes alive ${cluster.nodes.filter((node) => node.running).length}/${cluster.nodes.length}, ` +
          `all up in ${alive.allUp}/${alive.samples} samples (every 100 ms); exits: ${exits.length ? exits.join(", ") : "none"}; ${figures.join("; ")}; ` +
          `ok/failed per phase: ${tallies}; node log lines: ${logged.join(", ")}`,
      );
    }

    expect(exits).toEqual([]);
    expect(alive.allUp).toBe(alive.samples);
    expect(events.get("unhandled_rejection") ?? 0).toBe(0);
    expect(readiness).toHaveLength(cluster.nodes.length);
    for (const probe of readiness) {
      expect(probe.status, "/readyz while Redis is frozen").toBe(503);
      expect(probe.ms, "/readyz while Redis is frozen").toBeLessThanOrEqual(500);
    }
    expect(thawRecoveryMs).toBeLessThan(10_000);
    expect(restartRecoveryMs).toBeLessThan(10_000);
    const before = traffic.tally("1 before");
    const after = traffic.tally("6 recovered");
    for (const kind of ["login", "session", "handshake"] as const) {
      expect(before[kind].failed, `${kind} before the faults`).toBe(0);
      expect(after[kind].failed, `${kind} once Redis is back`).toBe(0);
      expect(after[kind].ok, `${kind} once Redis is back`).toBeGreaterThan(0);
    }
    // The faults did reach the nodes: requests failed while Redis was away.
    expect(traffic.tally("2 frozen (SIGSTOP)").login.failed + traffic.tally("4 killed (SIGKILL)").login.failed).toBeGreaterThan(0);

    // Each node, asked directly: ready, and serving logins, session reads and handshakes.
    for (const node of cluster.nodes) {
      expect((await fetch(`${node.url}/readyz`)).status, `${node.id} /readyz`).toBe(200);
      const login = await loginAt(node.url, names[0]!);
      expect(login.status, `${node.id} login`).toBe(200);
      const session = await fetch(`${node.url}/session`, { headers: { cookie: login.cookie! } });
      expect(session.status, `${node.id} session`).toBe(200);
      expect(await handshakeAt(node.url, login.cookie!), `${node.id} handshake`).toBe(true);
    }
  }, 90_000);
});
