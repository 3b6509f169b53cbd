/**
 * The ground issue 18 (Sala on Redis Cluster) stands on, checked on a real 3-primary, 3-replica
 * Redis Cluster from Debian's redis-server: keys of different rooms' hash tags spread over
 * shards; a script may touch one slot only (CROSSSLOT otherwise, the reason Sala's scripts must
 * be scoped by hash tag); ioredis 6's Cluster with `shardedSubscribers` receives SPUBLISH on
 * channels of every shard (what the sharded Socket.IO adapter needs); a primary killed with
 * SIGKILL is replaced by its replica and the client writes there again.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Cluster } from "ioredis";
import { startRedisCluster, type RedisClusterProcesses } from "./support/redis-cluster.js";

let redisCluster: RedisClusterProcesses;
const clients: Cluster[] = [];

function connectCluster(options: ConstructorParameters<typeof Cluster>[1] = {}): Cluster {
  const client = new Cluster(redisCluster.startNodes, { ...options });
  client.on("error", () => undefined); // a killed primary: the test watches the commands instead
  clients.push(client);
  return client;
}

/** The port of the primary that serves `key`'s slot. */
async function primaryOf(client: Cluster, key: string): Promise<number> {
  const slot = Number(await client.call("CLUSTER", "KEYSLOT", key));
  const ranges = (await client.call("CLUSTER", "SLOTS")) as Array<[number, number, [string, number, string]]>;
  const range = ranges.find(([start, end]) => slot >= start && slot <= end);
  if (!range) throw new Error(`no primary serves slot ${slot}`);
  return range[2][1];
}

const roomKey = (id: string) => `ground:{room:${id}}:meta`;
const ROOM_IDS = Array.from({ length: 12 }, (_, i) => `room${i}`);

beforeAll(async () => {
  redisCluster = await startRedisCluster({ primaries: 3, replicasPerPrimary: 1, nodeTimeoutMs: 2000 });
}, 120_000);
afterAll(async () => {
  for (const client of clients) client.disconnect();
  await redisCluster?.stop();
});

describe("a real Redis Cluster (3 primaries, 3 replicas)", () => {
  it("spreads rooms' hash tags over the primaries, and a Cluster client reads back what it wrote", async () => {
    const client = connectCluster();
    for (const id of ROOM_IDS) await client.hset(roomKey(id), "id", id);
    const primaries = new Set(await Promise.all(ROOM_IDS.map((id) => primaryOf(client, roomKey(id)))));
    expect(primaries.size).toBeGreaterThanOrEqual(2);
    expect(await Promise.all(ROOM_IDS.map((id) => client.hget(roomKey(id), "id")))).toEqual(ROOM_IDS);
  });

  it("refuses a script whose keys are in two slots (CROSSSLOT), and runs one whose keys share a hash tag", async () => {
    const client = connectCluster();
    const [a, b] = ROOM_IDS.map(roomKey);
    const touchBoth = "redis.call('SET', KEYS[1], 1); redis.call('SET', KEYS[2], 1); return 1";
    await expect(client.eval(touchBoth, 2, a!, b!)).rejects.toThrow(/CROSSSLOT/);
    expect(await client.eval(touchBoth, 2, "ground:{room:x}:a", "ground:{room:x}:b")).toBe(1);
  });

  it("delivers SPUBLISH to a sharded subscriber on every shard's channels", async () => {
    const subscriber = connectCluster({ shardedSubscribers: true });
    const publisher = connectCluster();
    const channels = ROOM_IDS.map((id) => `ground:{room:${id}}`);
    const received: string[] = [];
    subscriber.on("smessage", (channel: string, message: string) => received.push(`${channel}=${message}`));
    // One channel per call: channels of different slots cannot share one SSUBSCRIBE.
    for (const channel of channels) await subscriber.ssubscribe(channel);
    const shards = new Set(await Promise.all(channels.map((channel) => primaryOf(publisher, channel))));
    expect(shards.size).toBeGreaterThanOrEqual(2);
    for (const channel of channels) await publisher.spublish(channel, "hello");
    const deadline = Date.now() + 5000;
    while (received.length < channels.length && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(received.sort()).toEqual(channels.map((channel) => `${channel}=hello`).sort());
  });

  it("replaces a primary killed with SIGKILL by its replica; writes to its slots succeed again", async () => {
    const client = connectCluster({ scaleReads: "master", clusterRetryStrategy: () => 200 });
    const key = roomKey("failover");
    await client.set(key, "before");
    const port = await primaryOf(client, key);
    const victim = redisCluster.nodes.find((node) => node.port === port)!;
    const killedAt = Date.now();
    victim.process.kill("SIGKILL");
    let recoveredMs = -1;
    while (Date.now() - killedAt < 30_000) {
      try {
        await client.set(key, "after");
        if ((await primaryOf(client, key)) !== port) {
          recoveredMs = Date.now() - killedAt;
          break;
        }
      } catch {
        // CLUSTERDOWN / connection errors until the replica is promoted
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    console.info(`[measure] Redis Cluster failover (cluster-node-timeout 2000 ms): writes back after ${recoveredMs} ms`);
    expect(recoveredMs).toBeGreaterThan(0);
    expect(await client.get(key)).toBe("after");
  }, 60_000);
});
