/**
 * The adapter's subscriber connection through a long Redis outage (killed, down for more than
 * ioredis' 20 reconnect attempts, ~21 s, then started again on the same port). The Socket.IO
 * adapter subscribes when a room gets its first socket on a node and unsubscribes when it loses
 * its last, without looking at the reply; so does ioredis when it resubscribes. Such a command
 * asked for during the outage must neither fail unobserved (an unhandled rejection ends a node) nor
 * be dropped (the node would never hear that room again): it runs once Redis is back.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RedisProcess } from "../../../infra/cluster/src/redis.js";
import { connectRedis, type RedisConnections } from "../src/redis.js";
import { freePort } from "./support/redis-server.js";

let dir: string;
let redis: RedisProcess;
let connections: RedisConnections;
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "sala-sub-outage-"));
  redis = new RedisProcess({ port: await freePort(), dir, persistent: false });
  await redis.start();
  connections = await connectRedis({ url: redis.url }, pino({ level: "silent" }));
  process.on("unhandledRejection", onUnhandled);
});
afterAll(async () => {
  process.off("unhandledRejection", onUnhandled);
  await connections?.close();
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("a subscription asked for during a long Redis outage", () => {
  it("fails nothing unobserved, and is in effect once Redis is back", async () => {
    const { sub } = connections;
    const heard: string[] = [];
    sub.on("smessage", (_channel: string, message: string) => heard.push(message));
    await sub.ssubscribe("room-left-during-outage");

    let reconnects = 0;
    sub.on("reconnecting", () => reconnects++);
    await redis.kill();
    // As the adapter does: the replies are not looked at.
    void sub.ssubscribe("room-joined-during-outage");
    void sub.sunsubscribe("room-left-during-outage");
    const deadline = Date.now() + 40_000;
    while (reconnects < 22 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
    expect(reconnects, "ioredis reconnect attempts while Redis was down").toBeGreaterThanOrEqual(22);
    expect(unhandled).toEqual([]);

    await redis.start();
    const publisher = new Redis(redis.url);
    try {
      const readyBy = Date.now() + 10_000;
      while (sub.status !== "ready" && Date.now() < readyBy) await new Promise((resolve) => setTimeout(resolve, 50));
      // The subscriber's queued commands go out right after it is ready: a reply to a PING sent
      // after them on the same connection says they have been applied.
      await sub.ping();
      expect(await publisher.spublish("room-joined-during-outage", "hello")).toBe(1);
      expect(await publisher.spublish("room-left-during-outage", "gone")).toBe(0);
      const heardBy = Date.now() + 2000;
      while (!heard.includes("hello") && Date.now() < heardBy) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(heard).toEqual(["hello"]);
      expect(unhandled).toEqual([]);
    } finally {
      publisher.disconnect();
    }
  }, 60_000);
});
