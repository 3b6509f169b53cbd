/**
 * A node killed with SIGKILL (no cleanup at all) must not leave ghosts: the survivors sweep its
 * users offline and out of their rooms. Run with the production defaults (heartbeat 2 s, node TTL
 * 10 s), since the promise is "offline within 15 s" with those defaults.
 */
import { afterAll, beforeAll, describe, expect, it, inject } from "vitest";
import { LobbyState } from "@sala/protocol";
import { startChildNode, type ChildNode } from "./support/child-node.js";
import { connect, newUsername, record, registerAndLogin, request, startNode, waitFor, type ClientSocket, type TestNode, firstLobby } from "./support/cluster.js";
import { uniquePrefix } from "./support/redis-client.js";

const DEFAULT_TIMING = { HEARTBEAT_INTERVAL_MS: "2000", NODE_TTL_MS: "10000", LOBBY_FLUSH_MS: "200" };

let survivor: TestNode;
let victim: ChildNode;
let prefix: string;
const sockets: ClientSocket[] = [];

beforeAll(async () => {
  prefix = uniquePrefix("failure");
  survivor = await startNode(`${prefix}-survivor`, inject("redisUrl"), prefix, DEFAULT_TIMING);
  victim = await startChildNode(`${prefix}-victim`, inject("redisUrl"), prefix, DEFAULT_TIMING);
});
afterAll(async () => {
  for (const socket of sockets) socket.close();
  await victim.kill();
  await survivor.node.close();
});

describe("a node killed with SIGKILL", () => {
  it("has its users shown offline, to the lobby and to their rooms, within 15 s; they stay members", async () => {
    const watcher = newUsername("watcher");
    const doomed = newUsername("doomed");
    const watcherCookie = await registerAndLogin(survivor, watcher);
    const doomedCookie = await registerAndLogin(survivor, doomed);
    const watcherSocket = await connect(survivor, watcherCookie);
    sockets.push(watcherSocket);
    const lobby = new LobbyState();
    watcherSocket.on("lobby_update", (update) => lobby.applyUpdate(update));
    lobby.applySnapshot(await firstLobby(watcherSocket));

    // The doomed user is connected only through the victim node, inside a room.
    const doomedSocket = await connect(victim, doomedCookie);
    sockets.push(doomedSocket);
    const room = (await request(watcherSocket, "create_room", { name: newUsername("room") })).room;
    expect((await request(watcherSocket, "join_room", { roomId: room.id })).ok).toBe(true);
    expect((await request(doomedSocket, "join_room", { roomId: room.id })).ok).toBe(true);
    await waitFor(watcherSocket, "lobby_update", () => lobby.onlineUsers().includes(doomed) && lobby.room(room.id)?.memberCount === 2);

    const wentOffline = waitFor(watcherSocket, "member_presence", (event) => event.username === doomed, 20_000);
    const left = record(watcherSocket, "member_left");
    const killedAt = Date.now();
    await victim.kill("SIGKILL");
    await waitFor(watcherSocket, "lobby_update", () => !lobby.onlineUsers().includes(doomed), 20_000);
    const offlineAfterMs = Date.now() - killedAt;
    expect(offlineAfterMs).toBeLessThanOrEqual(15_000);
    expect(await wentOffline).toEqual({ roomId: room.id, username: doomed, online: false });
    expect(left).toEqual([]);
    const view = await request(watcherSocket, "join_room", { roomId: room.id });
    expect(view.members).toEqual(expect.arrayContaining([watcher, doomed]));
    expect(view.online).toEqual([watcher]);
    // A fresh snapshot agrees: no ghost in shared state.
    const snapshot = await request(watcherSocket, "lobby", {});
    expect(snapshot.users).not.toContain(doomed);
    expect(snapshot.users).toContain(watcher);
    console.info(`[measure] ghost cleared ${offlineAfterMs} ms after SIGKILL (heartbeat 2 s, TTL 10 s)`);
  }, 40_000);
});

describe("a node stopped with SIGTERM", () => {
  it("takes its users offline at once, closes their sockets and exits 0", async () => {
    const stopping = await startChildNode(`${prefix}-stopping`, inject("redisUrl"), prefix, DEFAULT_TIMING);
    const watcher = newUsername("watcher");
    const leaving = newUsername("leaving");
    const watcherSocket = await connect(survivor, await registerAndLogin(survivor, watcher));
    sockets.push(watcherSocket);
    const lobby = new LobbyState();
    watcherSocket.on("lobby_update", (update) => lobby.applyUpdate(update));
    lobby.applySnapshot(await firstLobby(watcherSocket));
    const leavingSocket = await connect(stopping, await registerAndLogin(survivor, leaving));
    sockets.push(leavingSocket);
    await waitFor(watcherSocket, "lobby_update", () => lobby.onlineUsers().includes(leaving));

    const disconnected = new Promise((resolve) => leavingSocket.once("disconnect", resolve));
    const exitCode = new Promise((resolve) => stopping.process.once("exit", (code) => resolve(code)));
    const stoppedAt = Date.now();
    stopping.process.kill("SIGTERM");
    await waitFor(watcherSocket, "lobby_update", () => !lobby.onlineUsers().includes(leaving), 5000);
    expect(Date.now() - stoppedAt).toBeLessThan(5000); // no waiting for the heartbeat TTL
    await disconnected;
    expect(await exitCode).toBe(0);
  }, 20_000);
});
