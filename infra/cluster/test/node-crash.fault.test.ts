/**
 * A node killed with SIGKILL while 120 users chat in 12 rooms through nginx: its clients reconnect
 * to the survivors within 5 s (p95), are back in their rooms without asking, and presence shows
 * exactly the users who are connected (no ghosts once the dead node is swept).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encryptText } from "@sala/protocol/envelope";
import { ProcessCluster } from "../src/cluster.js";
import { ask, FAST_FAILOVER_ENV, lobbyList, percentile, populateRooms, type TestClient } from "./clients.js";

const USERS = 120;
const ROOMS = 12;
let cluster: ProcessCluster;
let clients: TestClient[] = [];
let keys = new Map<string, { id: number; key: string }>();

beforeAll(async () => {
  cluster = await ProcessCluster.start({ nodes: 3, persistent: false, env: FAST_FAILOVER_ENV });
  ({ clients, keys } = await populateRooms(cluster.url, "crash", USERS, ROOMS));
}, 120_000);

afterAll(async () => {
  for (const client of clients) client.socket.close();
  await cluster?.stop();
});

describe("a node crash under load", () => {
  it("moves its clients to the survivors quickly, back in their rooms, with no ghosts", async () => {
    const victim = cluster.nodes[1]!;
    const killedAt = Date.now();
    await victim.kill();
    // The clients of the dead node are the ones that lose their connection.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const moved = clients.filter((client) => client.disconnectedAt.some((at) => at >= killedAt));
    expect(moved.length).toBeGreaterThan(USERS / 6); // least_conn spread them over 3 nodes
    const deadline = Date.now() + 15_000;
    while (moved.some((client) => !client.socket.connected) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const reconnectMs = moved.map((client) => (client.connectedAt.find((at) => at >= killedAt) ?? Infinity) - killedAt);
    const p50 = percentile(reconnectMs, 50);
    const p95 = percentile(reconnectMs, 95);
    console.info(`[measure] SIGKILL: ${moved.length} clients reconnected through nginx; p50 ${p50} ms, p95 ${p95} ms, max ${Math.max(...reconnectMs)} ms`);
    expect(p95).toBeLessThanOrEqual(5000);
    expect(clients.every((client) => client.socket.connected)).toBe(true);

    // Every moved client is in its room again without asking: it sends, its room mates receive.
    for (const client of moved.slice(0, 10)) {
      const roomId = client.roomId!;
      const ack = await ask(client.socket, "text", { roomId, msg: encryptText(`back from ${client.username}`, roomId, keys.get(roomId)!) });
      expect(ack).toMatchObject({ ok: true });
      const mate = clients.find((other) => other.roomId === roomId && other !== client)!;
      await expect.poll(() => mate.received.some((message) => message.seq === ack.seq), { timeout: 5000 }).toBe(true);
    }

    // Presence: after the sweep, everyone online once, and members intact.
    await new Promise((resolve) => setTimeout(resolve, 5500));
    const online = new Set(await lobbyList(clients[0]!.socket, "lobby_users", "crash"));
    expect(clients.filter((client) => !online.has(client.username))).toEqual([]);
    const rooms = (await lobbyList(clients[0]!.socket, "lobby_rooms", "crash")) as Array<{ memberCount: number }>;
    expect(rooms).toHaveLength(ROOMS);
    expect(rooms.every((room) => room.memberCount === USERS / ROOMS)).toBe(true);
  }, 90_000);
});
