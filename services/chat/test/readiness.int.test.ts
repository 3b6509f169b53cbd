/**
 * /readyz answers within 500 ms whatever Redis does: load balancers and kubelets give a probe about
 * that long. A frozen Redis (SIGSTOP: a stalled primary) accepts commands and never answers; the
 * node says not-ready quickly, stays live (/healthz), and is ready again once Redis answers.
 * This file freezes a redis-server of its own.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startNode, type TestNode } from "./support/cluster.js";
import { uniquePrefix } from "./support/redis-client.js";
import { startRedisServer, type RedisServer } from "./support/redis-server.js";

const PROBE_BUDGET_MS = 500;

let redis: RedisServer;
let node: TestNode;

beforeAll(async () => {
  redis = await startRedisServer();
  const prefix = uniquePrefix("readiness");
  node = await startNode(`${prefix}-n1`, redis.url, prefix);
});
afterAll(async () => {
  redis?.process.kill("SIGCONT");
  await node?.node.close();
  await redis?.stop();
});

async function probe(path: string): Promise<{ status: number; ms: number }> {
  const started = performance.now();
  const response = await fetch(`${node.url}${path}`, { signal: AbortSignal.timeout(5000) });
  await response.arrayBuffer();
  return { status: response.status, ms: Math.round(performance.now() - started) };
}

describe("/readyz with Redis frozen", () => {
  it("answers 503 within 500 ms while Redis is frozen, and 200 again once it is back", async () => {
    expect((await probe("/readyz")).status).toBe(200);
    redis.process.kill("SIGSTOP");
    const probes: Array<{ status: number; ms: number }> = [];
    try {
      // Each probe while frozen, including ones that find earlier probes' PINGs still waiting.
      for (let i = 0; i < 5; i++) probes.push(await probe("/readyz"));
      expect((await probe("/healthz")).status).toBe(200);
    } finally {
      redis.process.kill("SIGCONT");
    }
    console.info(`[measure] /readyz with Redis frozen: ${probes.map((p) => `${p.status} in ${p.ms} ms`).join(", ")}`);
    for (const { status, ms } of probes) {
      expect(status).toBe(503);
      expect(ms).toBeLessThanOrEqual(PROBE_BUDGET_MS);
    }
    const thawedAt = Date.now();
    let ready = await probe("/readyz");
    while (ready.status !== 200 && Date.now() - thawedAt < 5000) ready = await probe("/readyz");
    expect(ready.status).toBe(200);
    expect(ready.ms).toBeLessThanOrEqual(PROBE_BUDGET_MS);
  });
});
