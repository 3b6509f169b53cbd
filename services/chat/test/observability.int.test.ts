/**
 * Observability: every node's health samples reach admin viewers on any node, a killed node's
 * series stops and it leaves the recent view within its TTL, /metrics is valid Prometheus text
 * whose counters move with traffic, and none of it is open to anonymous users or non-admins.
 */
import { afterAll, beforeAll, describe, expect, it, inject } from "vitest";
import { ErrorCode, type NodeSample } from "@sala/protocol";
import { encryptText } from "@sala/protocol/envelope";
import { startChildNode, type ChildNode } from "./support/child-node.js";
import { freePort } from "./support/redis-server.js";
import { uniquePrefix } from "./support/redis-client.js";
import { connect, newUsername, record, registerAndLogin, request, sleep, startNode, type ClientSocket, type TestNode } from "./support/cluster.js";

const admin = newUsername("admin");
let prefix: string;
let node1: TestNode;
let node2: ChildNode;
let metricsPort: number;
const sockets: ClientSocket[] = [];

beforeAll(async () => {
  prefix = uniquePrefix("obs");
  metricsPort = await freePort();
  const env = { METRICS_PORT: String(metricsPort) };
  node1 = await startNode(`${prefix}-one`, inject("redisUrl"), prefix, env);
  node2 = await startChildNode(`${prefix}-two`, inject("redisUrl"), prefix, { ...env, METRICS_PORT: String(await freePort()) });
  // The admin role is a flag on the account in the shared store (granted by `npm run admin`, whose
  // own test is admin-cli.int.test.ts); any case of the name.
  await registerAndLogin(node1, admin);
  expect(await node1.node.stores.users.setAdmin(admin.toUpperCase(), true)).toBe(true);
});
afterAll(async () => {
  for (const socket of sockets) socket.close();
  await node2.kill();
  await node1.node.close();
});

/** Prometheus text exposition: comments, blank lines, or `name{labels} value`. */
function isPrometheusText(text: string): boolean {
  const sample = /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*",?)*\})? (-?[0-9.]+(e[+-]?[0-9]+)?|[Nn]a[Nn]|[+-]Inf)( [0-9]+)?$/; // Prometheus parses NaN in any case; prom-client writes "Nan"
  return text.trim().split("\n").every((line) => line === "" || line.startsWith("# HELP ") || line.startsWith("# TYPE ") || sample.test(line));
}

async function login(url: string, username: string): Promise<string> {
  const response = await fetch(`${url}/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username, password: "correct horse battery" }),
  });
  return response.headers.get("set-cookie")!.split(";")[0]!;
}

function counter(text: string, name: string): number {
  const line = text.split("\n").find((entry) => entry.startsWith(`${name}{`) || entry.startsWith(`${name} `));
  return line ? Number(line.split(" ").at(-1)) : NaN;
}

describe("cluster health for admins", () => {
  it("delivers samples from both nodes to a viewer on one of them, and drops a killed node", async () => {
    const viewer = await connect(node1, await login(node1.url, admin));
    sockets.push(viewer);
    const samples = record<NodeSample>(viewer, "metrics_sample");
    const subscribed = await request(viewer, "metrics_subscribe", {});
    expect(subscribed).toMatchObject({ ok: true, nodeTtlMs: 1000, windowSec: 300 });
    const started = Date.now();
    await expect.poll(() => new Set(samples.map((s) => s.node)).size, { timeout: 3000, interval: 50 }).toBe(2);
    console.info(`[measure] samples from both nodes reached the viewer within ${Date.now() - started} ms`);
    const latest = samples.at(-1)!;
    expect(latest.rssBytes).toBeGreaterThan(10_000_000);
    expect(latest.heapUsedBytes).toBeGreaterThan(1_000_000);
    expect(latest.cpuPercent).toBeGreaterThanOrEqual(0);
    expect(latest.loopDelayP99Ms).toBeGreaterThanOrEqual(0);
    const fromOne = samples.filter((s) => s.node === node1.id).at(-1)!;
    expect(fromOne.sockets).toBeGreaterThanOrEqual(1);

    await node2.kill();
    const killedAt = Date.now();
    await sleep(1500);
    const lateFromTwo = samples.filter((s) => s.node === node2.id && s.ts > killedAt);
    expect(lateFromTwo).toEqual([]);
    expect(samples.filter((s) => s.node === node1.id && s.ts > killedAt).length).toBeGreaterThan(0);
    const again = await request(viewer, "metrics_subscribe", {});
    expect(new Set((again.recent as NodeSample[]).map((s) => s.node))).toEqual(new Set([node1.id]));
  }, 20_000);

  it("refuses the samples to a user who is not an admin", async () => {
    const socket = await connect(node1, await registerAndLogin(node1, newUsername("plain")));
    sockets.push(socket);
    expect((await request(socket, "metrics_subscribe", {})).error.code).toBe(ErrorCode.FORBIDDEN);
  });
});

describe("/metrics and /memory", () => {
  it("serves valid Prometheus text to admins, whose counters move when messages flow", async () => {
    const adminCookie = await registerAndLogin(node1, newUsername("x")).then(() => login(node1.url, admin));
    const scrape = async () => {
      const response = await fetch(`${node1.url}/metrics`, { headers: { cookie: adminCookie } });
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toContain("text/plain");
      return response.text();
    };
    const before = await scrape();
    expect(isPrometheusText(before)).toBe(true);
    for (const name of ["sala_sockets", "sala_rooms", "sala_messages_accepted_total", "sala_deliveries_total", "sala_ack_latency_seconds_bucket", "sala_logins_total", "sala_redis_errors_total", "sala_draining", "process_resident_memory_bytes"]) {
      expect(before).toContain(name);
    }
    const sender = await connect(node1, adminCookie);
    sockets.push(sender);
    const { room } = await request(sender, "create_room", { name: newUsername("metrics") });
    const { key } = await request(sender, "join_room", { roomId: room.id });
    for (let i = 0; i < 5; i++) await request(sender, "text", { roomId: room.id, msg: encryptText(`m${i}`, room.id, key) });
    await sleep(100);
    const after = await scrape();
    expect(counter(after, "sala_messages_accepted_total") - (counter(before, "sala_messages_accepted_total") || 0)).toBe(5);
    expect(counter(after, "sala_deliveries_total") - (counter(before, "sala_deliveries_total") || 0)).toBe(5);
    expect(after).toMatch(/sala_logins_total\{result="success",node="[^"]+"\} [1-9]/);

    const internal = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    expect(internal.status).toBe(200);
    expect(isPrometheusText(await internal.text())).toBe(true);
  });

  it("counts each room message once per receiving socket, on the node that holds the socket", async () => {
    const other = await startNode(`${prefix}-three`, inject("redisUrl"), prefix);
    try {
      const adminCookie = await login(node1.url, admin);
      const scrape = async (url: string) => counter(await (await fetch(`${url}/metrics`, { headers: { cookie: adminCookie } })).text(), "sala_deliveries_total") || 0;
      const sender = await connect(node1, adminCookie);
      const nearCookie = await registerAndLogin(node1, newUsername("near"));
      const farCookie = await registerAndLogin(other, newUsername("far"));
      const near = await connect(node1, nearCookie);
      const far = [await connect(other, farCookie), await connect(other, farCookie)]; // two tabs
      const outside = await connect(other, await registerAndLogin(other, newUsername("lobby")));
      sockets.push(sender, near, ...far, outside);
      const { room } = await request(sender, "create_room", { name: newUsername("count") });
      const { key } = await request(sender, "join_room", { roomId: room.id });
      for (const socket of [near, ...far]) await request(socket, "join_room", { roomId: room.id });
      const received = far.map((socket) => record(socket, "text"));
      const before = { one: await scrape(node1.url), three: await scrape(other.url) };
      for (let i = 0; i < 5; i++) await request(sender, "text", { roomId: room.id, msg: encryptText(`m${i}`, room.id, key) });
      await expect.poll(() => received.every((texts) => texts.length === 5), { timeout: 3000 }).toBe(true);
      await sleep(100);
      // node-1: the sender and `near`, 5 each; the other node: both tabs of `far`, 5 each, not `outside`.
      expect((await scrape(node1.url)) - before.one).toBe(10);
      expect((await scrape(other.url)) - before.three).toBe(10);
    } finally {
      await other.node.close();
    }
  });

  it("is closed to anonymous users and non-admins", async () => {
    const plain = await registerAndLogin(node1, newUsername("plain"));
    expect((await fetch(`${node1.url}/metrics`)).status).toBe(401);
    expect((await fetch(`${node1.url}/metrics`, { headers: { cookie: plain } })).status).toBe(403);
    const anonymous = await fetch(`${node1.url}/memory`, { redirect: "manual" });
    expect(anonymous.status).toBe(302);
    expect(anonymous.headers.get("location")).toBe("/login?next=/memory"); // back to /memory after the login
    expect((await fetch(`${node1.url}/memory`, { headers: { cookie: plain } })).status).toBe(403);
  });
});
