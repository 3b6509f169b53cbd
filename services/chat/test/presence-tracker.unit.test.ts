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
