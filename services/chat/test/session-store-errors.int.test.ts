/**
 * The session store failing at the two moments express-session meets it around a response, on a
 * redis-server of this file's own (so it can be frozen, and given an ACL user):
 * - at the end of a response, when express-session saves or renews the session after the answer
 *   was sent: the error is logged and the node stays up (it used to reach @fastify/middie after
 *   the request was released, and end the process); the session keeper's renewals of open
 *   sockets' sessions failing are logged once per sweep, not once per session;
 * - at the start, when the session cannot be loaded: the request fails with UNAVAILABLE and the
 *   session is still there once Redis is back (it used to be deleted at the end of the error
 *   response, logging the user out).
 */
import { createInterface } from "node:readline";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startChildNode, type ChildNode } from "./support/child-node.js";
import { connect, newUsername, registerAndLogin, sleep, startNode, type TestNode } from "./support/cluster.js";
import { uniquePrefix } from "./support/redis-client.js";
import { startRedisServer, type RedisServer } from "./support/redis-server.js";

let redis: RedisServer;
let admin: Redis;

beforeAll(async () => {
  redis = await startRedisServer();
  admin = new Redis(redis.url);
});
afterAll(async () => {
  admin?.disconnect();
  redis.process.kill("SIGCONT");
  await redis?.stop();
});

const sessionStatus = async (node: Pick<TestNode, "url">, cookie: string) =>
  (await fetch(`${node.url}/session`, { headers: { cookie }, signal: AbortSignal.timeout(10_000) })).status;

describe("a session store error at the end of a response", () => {
  let full: TestNode;
  let limited: ChildNode;
  const logged: Array<{ event?: string; sessions?: number }> = [];
  const events = (name: string) => logged.filter((entry) => entry.event === name);

  beforeAll(async () => {
    const prefix = uniquePrefix("late-save");
    full = await startNode(`${prefix}-full`, redis.url, prefix);
    // A node whose Redis user may not EXPIRE: every session renewal (connect-redis touch) fails with
    // NOPERM, after the response to GET /session is sent. Nothing else a node does uses EXPIRE.
    await admin.call("ACL", "SETUSER", "no-expire", "on", ">no-expire-password", "~*", "&*", "+@all", "-expire");
    const url = new URL(redis.url);
    url.username = "no-expire";
    url.password = "no-expire-password";
    // Its session keeper renews the sessions of its open sockets every second (idle timeout / 3).
    limited = await startChildNode(`${prefix}-limited`, url.toString(), prefix, { SESSION_IDLE_TIMEOUT_SEC: "3" });
    createInterface({ input: limited.process.stdout! }).on("line", (line) => {
      try {
        logged.push(JSON.parse(line) as { event?: string; sessions?: number });
      } catch {
        // not a log line
      }
    });
  });
  afterAll(async () => {
    await limited?.kill("SIGTERM");
    await full?.node.close();
  });

  it("is logged, and the node stays up and serves", async () => {
    const cookie = await registerAndLogin(full, newUsername("late"));
    for (let i = 0; i < 10; i++) expect(await sessionStatus(limited, cookie)).toBe(200);
    const deadline = Date.now() + 5000;
    while (events("session_store_failed").length < 10 && Date.now() < deadline) await sleep(50);
    expect(events("session_store_failed")).toHaveLength(10);
    expect(limited.process.exitCode).toBeNull();
    expect(limited.process.signalCode).toBeNull();
    expect((await fetch(`${limited.url}/readyz`)).status).toBe(200);
    expect(await sessionStatus(limited, cookie)).toBe(200);
  });

  it("is logged once per sweep when the sessions of open sockets cannot be renewed", async () => {
    const cookies = await Promise.all([1, 2, 3].map(() => registerAndLogin(full, newUsername("kept"))));
    const sockets = await Promise.all(cookies.map((cookie) => connect(limited, cookie)));
    try {
      const from = logged.length;
      const sweeps = () => logged.slice(from).filter((entry) => entry.event === "session_renew_failed");
      const deadline = Date.now() + 5000;
      while (sweeps().length < 2 && Date.now() < deadline) await sleep(50);
      expect(sweeps().length).toBeGreaterThanOrEqual(2);
      for (const sweep of sweeps()) expect(sweep.sessions).toBe(3);
      expect(sockets.every((socket) => socket.connected)).toBe(true);
      expect(limited.process.exitCode).toBeNull();
    } finally {
      for (const socket of sockets) socket.close();
    }
  });
});

describe("a session that cannot be loaded while Redis is frozen", () => {
  let node: TestNode;
  beforeAll(async () => {
    const prefix = uniquePrefix("frozen-load");
    node = await startNode(`${prefix}-n1`, redis.url, prefix);
  });
  afterAll(() => node?.node.close());

  it("fails the request with UNAVAILABLE and is still there once Redis is back", async () => {
    const cookie = await registerAndLogin(node, newUsername("frozen"));
    redis.process.kill("SIGSTOP");
    let during: Response;
    try {
      during = await fetch(`${node.url}/session`, { headers: { cookie }, signal: AbortSignal.timeout(10_000) });
    } finally {
      redis.process.kill("SIGCONT");
    }
    expect(during.status).toBe(503);
    expect(((await during.json()) as { error: { code: string } }).error.code).toBe("UNAVAILABLE");
    // Whatever the node sent Redis while it was frozen has run by now: a PING on the node's own
    // connection is answered after it.
    const deadline = Date.now() + 5000;
    while ((await fetch(`${node.url}/readyz`)).status !== 200 && Date.now() < deadline) await sleep(50);
    expect(await sessionStatus(node, cookie)).toBe(200);
  });
});
