import type { Socket as NetSocket } from "node:net";
import { createShardedAdapter } from "@socket.io/redis-adapter";
import { Cluster, type Redis } from "ioredis";
import { pino } from "pino";
import { Server } from "socket.io";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { parseClusterNodes } from "../src/config.js";
import { connectRedis, type RedisConnections } from "../src/redis.js";
import { adapterSubscriptionsApplied } from "../src/realtime/socket-server.js";
import { testRedis, testRedisCluster, uniquePrefix } from "./support/redis-client.js";

const observer = testRedis();
const shardSubscribers = async (client: Redis | Cluster, channel: string) => {
  // On a Redis Cluster, SHARDNUMSUB answers for the channels of the shard it is sent to.
  const servers = client instanceof Cluster ? client.nodes("master") : [client];
  const counts = await Promise.all(servers.map(async (server) => ((await server.call("PUBSUB", "SHARDNUMSUB", channel)) as [string, number])[1]));
  return counts.reduce((sum, count) => sum + count, 0);
};
/** What the node writes to Redis on this connection stays in Node's buffer while corked. */
const socketOf = (client: Redis) => (client as unknown as { stream: NetSocket }).stream;

/** Sala's adapter on `connections`; a socket id joining a room makes it subscribe. */
function adapterWithRoom(connections: RedisConnections, prefix: string, room: string) {
  const io = new Server();
  io.adapter(createShardedAdapter(connections.pub, connections.sub, { channelPrefix: prefix, subscriptionMode: "dynamic" }));
  return { io, join: () => io.of("/").adapter.addAll("socket-1", new Set([room])), channel: `${prefix}#/#${room}#` };
}

describe("adapterSubscriptionsApplied on one Redis server", () => {
  let connections: RedisConnections;
  let io: Server | undefined;
  beforeAll(async () => {
    connections = await connectRedis({ url: inject("redisUrl") }, pino({ level: "silent" }));
  });
  afterAll(() => connections?.close());
  afterEach(async () => {
    socketOf(connections.sub as Redis).uncork();
    // The adapter unsubscribes from its channels (the server has no HTTP server to close).
    await io?.of("/").adapter.close();
    io = undefined;
  });

  it("resolves only once Redis has answered the room subscription the adapter asked for before it", async () => {
    const room = adapterWithRoom(connections, uniquePrefix("subs"), "{room:r1}");
    io = room.io;
    await new Promise((resolve) => setTimeout(resolve, 50)); // the adapter's own channels
    const applied = adapterSubscriptionsApplied(connections, 10_000);

    socketOf(connections.sub as Redis).cork();
    room.join();
    let done = false;
    const waiting = applied().then(() => {
      done = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(done).toBe(false);
    expect(await shardSubscribers(observer, room.channel)).toBe(0);

    socketOf(connections.sub as Redis).uncork();
    await waiting;
    expect(await shardSubscribers(observer, room.channel)).toBe(1);
  });

  it("gives up waiting after its time limit, and does not wait at all while the subscriber is down", async () => {
    const room = adapterWithRoom(connections, uniquePrefix("subs"), "{room:r2}");
    io = room.io;
    await new Promise((resolve) => setTimeout(resolve, 50));
    socketOf(connections.sub as Redis).cork();
    room.join();
    const started = Date.now();
    await adapterSubscriptionsApplied(connections, 150)();
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    socketOf(connections.sub as Redis).uncork();

    const down = await connectRedis({ url: inject("redisUrl") }, pino({ level: "silent" }));
    down.sub.disconnect();
    void down.sub.ssubscribe("never-answered");
    const downStarted = Date.now();
    await adapterSubscriptionsApplied(down, 10_000)();
    expect(Date.now() - downStarted).toBeLessThan(100);
    await down.close();
  });

  it("waits for nothing on a node without Redis", async () => {
    await expect(adapterSubscriptionsApplied(null)()).resolves.toBeUndefined();
  });
});

describe("adapterSubscriptionsApplied on a Redis Cluster", () => {
  const admin = testRedisCluster();
  let connections: RedisConnections;
  beforeAll(async () => {
    connections = await connectRedis({ clusterNodes: parseClusterNodes(inject("redisClusterNodes")) }, pino({ level: "silent" }));
  });
  afterAll(() => connections?.close());

  it("resolves once the shard that owns each joined room's channel has answered its SSUBSCRIBE", async () => {
    const prefix = uniquePrefix("subs");
    const io = new Server();
    io.adapter(createShardedAdapter(connections.pub, connections.sub, { channelPrefix: prefix, subscriptionMode: "dynamic" }));
    const rooms = Array.from({ length: 12 }, (_, i) => `{room:c${i}}`);
    // Rooms whose channels hash to every shard (12 tags over 3 primaries).
    for (const room of rooms) io.of("/").adapter.addAll(`socket-${room}`, new Set([room]));
    await adapterSubscriptionsApplied(connections, 10_000)();
    const counts = await Promise.all(rooms.map((room) => shardSubscribers(admin, `${prefix}#/#${room}#`)));
    expect(counts).toEqual(rooms.map(() => 1));
    await io.of("/").adapter.close();
  });
});
