/**
 * Session lifetimes, with short timeouts: an unused session expires after the idle timeout; an
 * open socket keeps its session alive; nothing outlives the absolute timeout, not even a live
 * socket.
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it, inject } from "vitest";
import { connect, eventually, expectNoSessionRefused, newUsername, registerAndLogin, sleep, startCluster, type TestCluster, type TestNode } from "./support/cluster.js";

let cluster: TestCluster;
let n1: TestNode, n2: TestNode;
beforeAll(async () => {
  cluster = await startCluster(2, inject("redisUrl"), { SESSION_IDLE_TIMEOUT_SEC: "2", SESSION_ABSOLUTE_TIMEOUT_SEC: "5" });
  [n1, n2] = cluster.nodes as [TestNode, TestNode];
});
afterAll(() => cluster.close());

const sessionStatus = async (node: TestNode, cookie: string) => (await fetch(`${node.url}/session`, { headers: { cookie } })).status;

describe("session timeouts", () => {
  it("expire an unused session after the idle timeout, on every node", async () => {
    const cookie = await registerAndLogin(n1, newUsername("idle"));
    expect(await sessionStatus(n2, cookie)).toBe(200);
    await sleep(2600);
    expect(await sessionStatus(n1, cookie)).toBe(401);
    expect(await sessionStatus(n2, cookie)).toBe(401);
  });

  it("keep a session alive while its socket is open, and end it at the absolute timeout", async () => {
    const cookie = await registerAndLogin(n1, newUsername("live"));
    const loggedInAt = Date.now();
    const socket = await connect(n2, cookie);
    // The keeper works from socket.data: the handshake request (and what express-session hung on
    // it) is released at the connect, so an idle socket does not keep it in memory.
    const [serverSocket] = [...n2.node.io.of("/").sockets.values()].filter((s) => s.id === socket.id);
    expect(serverSocket?.conn.request).toBeNull();
    const disconnected = new Promise<number>((resolve) => socket.once("disconnect", () => resolve(Date.now())));
    const told = new Promise((resolve) => socket.once("signed_out", resolve));
    await sleep(3200); // past the idle timeout, with no HTTP request in between
    expect(socket.connected).toBe(true);
    expect(await sessionStatus(n1, cookie)).toBe(200);
    const disconnectedAt = await disconnected;
    expect(disconnectedAt - loggedInAt).toBeGreaterThanOrEqual(5000);
    expect(disconnectedAt - loggedInAt).toBeLessThan(7500);
    expect(await told).toEqual({ reason: "expired" }); // the page says why
    expect(await sessionStatus(n1, cookie)).toBe(401);
    await expectNoSessionRefused(n2, cookie);
  }, 15_000);

  it("close a socket whose session vanished from the store, even when no notice said so, within one renewal sweep", async () => {
    const cookie = await registerAndLogin(n1, newUsername("gone"));
    const socket = await connect(n2, cookie);
    let closed = false;
    socket.on("disconnect", () => (closed = true));
    const told = new Promise((resolve) => socket.once("signed_out", resolve));
    // As if an operator ended the session while this node's subscriber connection was down: the
    // session is deleted from the store and no admin notice arrives.
    const sessionId = [...n2.node.io.of("/").sockets.values()].find((s) => s.id === socket.id)!.data.session.id;
    const redis = new Redis(inject("redisUrl"));
    try {
      expect(await redis.del(`${cluster.prefix}:sess:${sessionId}`)).toBe(1);
    } finally {
      redis.disconnect();
    }
    await eventually(() => closed, 3000, "the keeper closed the socket");
    expect(await told).toEqual({ reason: "expired" });
    await expectNoSessionRefused(n2, cookie);
  }, 10_000);
});
