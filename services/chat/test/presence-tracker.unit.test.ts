import { describe, expect, it, vi } from "vitest";
import { createLogger } from "../src/logger.js";
import { PresenceTracker } from "../src/realtime/presence-tracker.js";
import type { LobbyFeed } from "../src/realtime/lobby-feed.js";
import { MemoryPresenceStore } from "../src/stores/memory/presence.js";
import { Revision } from "../src/stores/memory/revision.js";

function tracker() {
  const store = new MemoryPresenceStore(new Revision());
  const connect = vi.spyOn(store, "connect");
  const disconnect = vi.spyOn(store, "disconnect");
  const online: string[] = [];
  const lobbyFeed = { userOnline: (name: string) => online.push(name), userOffline: () => {} } as unknown as LobbyFeed;
  const presence = new PresenceTracker({
    presence: store,
    nodeId: "n1",
    lobbyFeed,
    onUserOffline: async () => {},
    onUserOnline: async () => {},
    heartbeatIntervalMs: 60_000,
    nodeTtlMs: 180_000,
    graceMs: 0,
    logger: createLogger("n1", "silent"),
  });
  return { presence, store, connect, disconnect, online };
}

describe("PresenceTracker", () => {
  it("tells shared state about a user's first socket on the node and their last, not the ones between", async () => {
    const { presence, store, connect, disconnect, online } = tracker();
    await Promise.all([presence.socketConnected("Ana"), presence.socketConnected("ana"), presence.socketConnected("Ana")]);
    expect(connect).toHaveBeenCalledTimes(1);
    expect(online).toEqual(["Ana"]);
    await presence.socketDisconnected("Ana");
    await presence.socketDisconnected("Ana");
    expect(disconnect).not.toHaveBeenCalled();
    expect(await store.isOnline("Ana")).toBe(true); // still online
    await presence.socketDisconnected("Ana");
    expect(disconnect).toHaveBeenCalledTimes(1);
    await presence.socketConnected("Ana");
    expect(connect).toHaveBeenCalledTimes(2);
  });

  it("refuses every socket that waited on a failed registration, and registers again for the next", async () => {
    const { presence, connect } = tracker();
    connect.mockRejectedValueOnce(new Error("redis down"));
    const first = presence.socketConnected("bia");
    const second = presence.socketConnected("bia");
    await expect(first).rejects.toThrow("redis down");
    await expect(second).rejects.toThrow("redis down");
    await presence.socketConnected("bia");
    expect(connect).toHaveBeenCalledTimes(2);
  });

  it("re-registers each of its users once when its node was swept while alive", async () => {
    const { presence, store, connect } = tracker();
    await presence.start();
    await presence.socketConnected("dani");
    await presence.socketConnected("dani");
    await store.sweepNode("n1"); // a long pause: the others took this node for dead
    expect(await store.isOnline("dani")).toBe(false);
    await presence.tick();
    expect(await store.isOnline("dani")).toBe(true);
    expect(connect).toHaveBeenCalledTimes(2);
    await presence.socketDisconnected("dani");
    expect(await store.isOnline("dani")).toBe(true);
    await presence.socketDisconnected("dani");
    expect(await store.isOnline("dani")).toBe(false);
    await presence.stop();
  });

  it("refuses a socket that connects after the node stopped (its presence would never be swept)", async () => {
    const { presence, connect } = tracker();
    await presence.start();
    await presence.stop();
    await expect(presence.socketConnected("edu")).rejects.toThrow(/shutting down/);
    expect(connect).not.toHaveBeenCalled();
  });
});

describe("PresenceTracker sweeps", () => {
  const TTL = 180_000;
  /** n1's tracker over a store where n2 heartbeated at `n2Beat`; `failing` makes n1's heartbeats fail. */
  function twoNodes(n2Beat: number) {
    const setup = tracker();
    const sweep = vi.spyOn(setup.store, "sweepNode");
    let failing = false;
    const heartbeat = setup.store.heartbeat.bind(setup.store);
    vi.spyOn(setup.store, "heartbeat").mockImplementation(async (node, now) => {
      if (failing && node === "n1") throw new Error("Connection is closed.");
      return heartbeat(node, now);
    });
    return { ...setup, sweep, n2Beat: () => heartbeat("n2", n2Beat), fail: (value: boolean) => (failing = value) };
  }

  it("sweeps a node silent for NODE_TTL_MS once its own heartbeats have gone through that long", async () => {
    const { presence, sweep, n2Beat } = twoNodes(0);
    await n2Beat();
    await presence.tick(1_000_000);
    expect(sweep).not.toHaveBeenCalled(); // just started: it could not have heard n2 yet
    await presence.tick(1_000_000 + TTL);
    expect(sweep).toHaveBeenCalledWith("n2");
  });

  it("does not sweep a live node whose heartbeats, like its own, failed during an outage of shared state", async () => {
    const { presence, sweep, fail, store } = twoNodes(0);
    await presence.tick(0);
    await presence.tick(TTL); // long-running, healthy
    await store.heartbeat("n2", TTL);
    fail(true);
    await presence.tick(TTL + 60_000); // the outage: nobody heartbeats
    fail(false);
    // Back: n2's last heartbeat is older than NODE_TTL_MS, but n1 only just got through itself.
    await presence.tick(TTL + 2 * TTL);
    expect(sweep).not.toHaveBeenCalled();
    await store.heartbeat("n2", TTL + 2 * TTL + 1000); // n2 is back too
    await presence.tick(TTL + 3 * TTL);
    expect(sweep).not.toHaveBeenCalled();
  });
});
