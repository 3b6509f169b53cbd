import type { Socket as NetSocket } from "node:net";
import { createShardedAdapter } from "@socket.io/redis-adapter";
import type { Redis } from "ioredis";
import { Server } from "socket.io";
import { afterEach, describe, expect, it } from "vitest";
import type { RedisConnections } from "../src/redis.js";
import { adapterSubscriptionsApplied } from "../src/realtime/socket-server.js";
import { testRedis, uniquePrefix } from "./support/redis-client.js";

const observer = testRedis();
const shardSubscribers = async (channel: string) => ((await observer.call("PUBSUB", "SHARDNUMSUB", channel)) as [string, number])[1];
/** What the node writes to Redis on this connection stays in Node's buffer while corked. */
const socketOf = (client: Redis) => (client as unknown as { stream: NetSocket }).stream;

describe("adapterSubscriptionsApplied", () => {
  const pub = testRedis();
  const sub = testRedis();
  let io: Server | undefined;
  afterEach(async () => {
    socketOf(sub).uncork();
    // The adapter unsubscribes from its channels (the server has no HTTP server to close).
    await io?.of("/").adapter.close();
    io = undefined;
  });

  /** Sala's adapter on this test's connections; a socket id joining a room makes it subscribe. */
  function adapterWithRoom(prefix: string, room: string) {
    io = new Server();
    io.adapter(createShardedAdapter(pub, sub, { channelPrefix: prefix, subscriptionMode: "dynamic" }));
    return { join: () => io!.of("/").adapter.addAll("socket-1", new Set([room])), channel: `${prefix}#/#${room}#` };
  }

  it("resolves only once Redis has applied the room subscription the adapter asked for before it", async () => {
    const { join, channel } = adapterWithRoom(uniquePrefix("subs"), "room:r1");
    await new Promise((resolve) => setTimeout(resolve, 50)); // the adapter's own channels
    const applied = adapterSubscriptionsApplied({ sub } as RedisConnections, 10_000);

    socketOf(sub).cork();
    join();
    let done = false;
    const waiting = applied().then(() => {
      done = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(done).toBe(false);
    expect(await shardSubscribers(channel)).toBe(0);

    socketOf(sub).uncork();
    await waiting;
    expect(await shardSubscribers(channel)).toBe(1);
  });

  it("gives up waiting after its time limit, and does not wait at all while the subscriber is down", async () => {
    adapterWithRoom(uniquePrefix("subs"), "room:r2");
    await new Promise((resolve) => setTimeout(resolve, 50));
    socketOf(sub).cork();
    const started = Date.now();
    await adapterSubscriptionsApplied({ sub } as RedisConnections, 150)();
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    socketOf(sub).uncork();

    const down = testRedis();
    down.disconnect();
    const downStarted = Date.now();
    await adapterSubscriptionsApplied({ sub: down } as RedisConnections, 10_000)();
    expect(Date.now() - downStarted).toBeLessThan(100);
  });

  it("waits for nothing on a node without Redis", async () => {
    await expect(adapterSubscriptionsApplied(null)()).resolves.toBeUndefined();
  });
});
