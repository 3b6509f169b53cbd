/**
 * The Redis Cluster bench's probe (loadtest/src/bench/redis-probe.ts) on the run's real servers:
 * it must tell the cluster's primaries from their replicas, place each replica under its primary,
 * name the shard of `{global}`, and count a shard's work on that shard (and its replica), since
 * the bench's per-shard table is read from it. Only INFO is read and a few keys of this file's
 * own are written: the shared cluster is not disturbed.
 */
import { afterAll, beforeAll, describe, expect, it, inject } from "vitest";
import { Cluster } from "ioredis";
import { RedisProbe } from "../src/bench/redis-probe.js";

const ports = inject("redisClusterNodes")
  .split(",")
  .map((seed) => Number(seed.split(":")[1]));
const PREFIX = `probe${process.pid}`;

let probe: RedisProbe;
let client: Cluster;

beforeAll(async () => {
  probe = await RedisProbe.cluster(ports);
  client = new Cluster(ports.map((port) => ({ host: "127.0.0.1", port })));
});

afterAll(async () => {
  await client.del(`${PREFIX}:{global}:probe`).catch(() => undefined);
  client.disconnect();
  probe.close();
});

describe("RedisProbe on a Redis Cluster of 3 primaries and 3 replicas", () => {
  it("lists every server once, each primary followed by its replica, with its slots", () => {
    const { servers } = probe;
    expect(servers.map((s) => s.port).sort()).toEqual([...ports].sort());
    expect(servers.map((s) => s.role)).toEqual(["primary", "replica", "primary", "replica", "primary", "replica"]);
    expect(servers.filter((s) => s.label.includes("{global}"))).toHaveLength(1);
    for (let i = 0; i < servers.length; i += 2) {
      expect(servers[i + 1]!.slots).toBe(servers[i]!.slots);
      expect(servers[i]!.slots).toMatch(/^\d+-\d+/);
      expect(servers[i]!.pid).toBeGreaterThan(0);
    }
    expect(servers[0]!.slots.startsWith("0-")).toBe(true);
  });

  it("counts writes to `{global}` on its shard's primary and replica", async () => {
    const owner = probe.servers.findIndex((s) => s.label.includes("{global}"));
    const [primary, replica] = [probe.servers[owner]!, probe.servers[owner + 1]!];
    const before = await probe.read();
    for (let i = 0; i < 200; i++) await client.incr(`${PREFIX}:{global}:probe`);
    // The replica applies the stream a moment later: wait until it has.
    let delta = probe.delta(before, await probe.read());
    for (let tries = 0; tries < 50 && delta.get(replica.port)!.commands < 200; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      delta = probe.delta(before, await probe.read());
    }
    expect(delta.get(primary.port)!.commands).toBeGreaterThanOrEqual(200);
    expect(delta.get(replica.port)!.commands).toBeGreaterThanOrEqual(200);
    expect(delta.get(primary.port)!.cpuMs).toBeGreaterThan(0);
  });
});
