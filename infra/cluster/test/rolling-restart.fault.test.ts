/**
 * A rolling restart (SIGTERM, then start again, one node after another) while 30 users chat in 3
 * rooms through nginx: each draining node finishes its in-flight events and closes its sockets;
 * clients reconnect to other nodes with their room (handshake auth) and the messages they typed
 * meanwhile (Socket.IO's send buffer, resent with the same id when an answer was lost), fetch what
 * they missed from the room's history, and nobody appears to leave (presence grace).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encryptText } from "@sala/protocol/envelope";
import { ProcessCluster } from "../src/cluster.js";
import { ask, populateRooms, sendMessage, type TestClient } from "./clients.js";

const USERS = 30;
const ROOMS = 3;
let cluster: ProcessCluster;
let clients: TestClient[] = [];
let keys = new Map<string, { id: number; key: string }>();
const leaves: string[] = [];

beforeAll(async () => {
  cluster = await ProcessCluster.start({ nodes: 3, persistent: false, env: { REGISTRATIONS_PER_IP: "100000" } });
  ({ clients, keys } = await populateRooms(cluster.url, "roll", USERS, ROOMS));
  for (const client of clients) client.socket.on("member_left", (event) => leaves.push(`${event.username} ${event.reason}`));
}, 120_000);

afterAll(async () => {
  for (const client of clients) client.socket.close();
  await cluster?.stop();
});

describe("a rolling restart of every node", () => {
  it("loses no acknowledged message: every member gets each exactly once, nobody leaves", async () => {
    const acks: Array<{ client: TestClient; seq: number }> = [];
    const failures: unknown[] = [];
    let sending = true;
    const senders = clients.map(async (client, i) => {
      let n = 0;
      await new Promise((resolve) => setTimeout(resolve, i * 20));
      while (sending) {
        const roomId = client.roomId!;
        const answer = await sendMessage(client, encryptText(`${client.username} #${n++}`, roomId, keys.get(roomId)!)).catch(
          (error: Error) => ({ ok: false, error: error.message }),
        );
        if (answer.ok) acks.push({ client, seq: answer.seq });
        else failures.push(answer);
        await new Promise((resolve) => setTimeout(resolve, 400));
      }
    });

    const restartMs: number[] = [];
    for (const node of cluster.nodes) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const started = Date.now();
      await node.stop();
      await node.start();
      restartMs.push(Date.now() - started);
    }
    await new Promise((resolve) => setTimeout(resolve, 1500));
    sending = false;
    await Promise.all(senders);
    await new Promise((resolve) => setTimeout(resolve, 1000));

    // Every acked message reaches every member of its room exactly once, in order: what a
    // reconnecting member missed live it fetched from the room's history.
    let missed = 0;
    for (const { client, seq } of acks) {
      for (const mate of clients.filter((other) => other.roomId === client.roomId)) {
        if (!mate.received.some((message) => message.seq === seq)) missed++;
      }
    }
    const deliveries = acks.length * (USERS / ROOMS);
    const reconnects = clients.reduce((sum, client) => sum + client.connectedAt.length - 1, 0);
    console.info(
      `[measure] rolling restart of 3 nodes (stop+start ${restartMs.join("/")} ms): ${acks.length} messages acked, ${failures.length} failed, ` +
        `${reconnects} reconnects, ${missed} of ${deliveries} deliveries missing after backfill`,
    );
    expect(failures).toEqual([]);
    expect(missed).toBe(0);
    for (const client of clients) {
      const seqs = client.received.map((message) => message.seq);
      expect(new Set(seqs).size).toBe(seqs.length); // no duplicates
    }
    expect(acks.length).toBeGreaterThan(USERS * 5);
    expect(reconnects).toBeGreaterThanOrEqual(USERS); // every client moved at least once
    expect(clients.every((client) => client.socket.connected)).toBe(true);
    expect(leaves).toEqual([]);
    const lobby = await ask(clients[0]!.socket, "lobby", {});
    expect(clients.filter((client) => !lobby.users.includes(client.username))).toEqual([]);
  }, 120_000);
});
