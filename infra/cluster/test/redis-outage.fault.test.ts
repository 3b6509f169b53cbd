/**
 * Redis stops for a while: nodes stay up, say they are not ready, and answer requests that need
 * Redis with an error quickly (no hang, no silent success); when Redis is back they reconnect and
 * resubscribe by themselves, and a message crosses nodes again within 5 s.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorCode } from "@sala/protocol";
import { encryptText } from "@sala/protocol/envelope";
import { ProcessCluster } from "../src/cluster.js";
import { ask, connectClient, registerAndLogin, type TestClient } from "./clients.js";

let cluster: ProcessCluster;
let ana: TestClient, bia: TestClient;
let roomId: string;
let key: { id: number; key: string };

beforeAll(async () => {
  // Persistent: Redis comes back with its AOF, as it does in compose.
  cluster = await ProcessCluster.start({ nodes: 2, persistent: true, env: { PRESENCE_GRACE_MS: "20000" } });
  const run = Date.now().toString(36).slice(-5);
  // Each user talks to one node directly, so the message must cross nodes through Redis.
  const [n1, n2] = cluster.nodes as [(typeof cluster.nodes)[0], (typeof cluster.nodes)[0]];
  ana = await connectClient(n1.url, `ana${run}`, await registerAndLogin(cluster.url, `ana${run}`));
  bia = await connectClient(n2.url, `bia${run}`, await registerAndLogin(cluster.url, `bia${run}`));
  const created = await ask(ana.socket, "create_room", { name: `outage ${run}` });
  roomId = created.room.id;
  key = (await ask(ana.socket, "join_room", { roomId })).key;
  await ask(bia.socket, "join_room", { roomId });
  ana.roomId = bia.roomId = roomId;
}, 60_000);

afterAll(async () => {
  ana?.socket.close();
  bia?.socket.close();
  await cluster?.stop();
});

const send = (text: string) => ask(ana.socket, "text", { roomId, msg: encryptText(text, roomId, key) }, 8000);

describe("a Redis outage", () => {
  it("fails fast while Redis is down and recovers by itself when it is back", async () => {
    expect((await send("before")).ok).toBe(true);
    await cluster.redis.stop();

    // Requests that need Redis fail fast with an error ack.
    const started = Date.now();
    const during = await send("during");
    const failMs = Date.now() - started;
    expect(during).toEqual({ ok: false, error: { code: ErrorCode.UNAVAILABLE, message: expect.any(String) } });
    expect(failMs).toBeLessThan(3000);
    const login = await fetch(`${cluster.url}/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: ana.username, password: "correct horse battery" }),
    });
    expect(login.status).toBe(503);
    expect(((await login.json()) as { error: { code: string } }).error.code).toBe(ErrorCode.UNAVAILABLE);
    for (const node of cluster.nodes) {
      const ready = await fetch(`${node.url}/readyz`);
      expect(ready.status).toBe(503);
      expect((await fetch(`${node.url}/healthz`)).status).toBe(200);
      expect(node.running).toBe(true);
    }
    await new Promise((resolve) => setTimeout(resolve, 2000)); // a real outage, not a blip
    expect(cluster.nodes.every((node) => node.running)).toBe(true);

    await cluster.redis.start();
    const backAt = Date.now();
    let crossedAfterMs = Infinity;
    while (Date.now() - backAt < 15_000) {
      const attempt = await send(`after ${Date.now()}`);
      if (attempt.ok) {
        const arrived = await new Promise<boolean>((resolve) => {
          const check = setInterval(() => {
            if (bia.received.some((message) => message.seq === attempt.seq)) {
              clearInterval(check);
              resolve(true);
            }
          }, 20);
          setTimeout(() => (clearInterval(check), resolve(false)), 1000);
        });
        if (arrived) {
          crossedAfterMs = Date.now() - backAt;
          break;
        }
      } else {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    console.info(`[measure] Redis outage: error ack in ${failMs} ms while down; a cross-node message flowed ${crossedAfterMs} ms after Redis was back`);
    expect(crossedAfterMs).toBeLessThanOrEqual(5000);
    for (const node of cluster.nodes) expect((await fetch(`${node.url}/readyz`)).status).toBe(200);
    expect(ana.socket.connected && bia.socket.connected).toBe(true);
  }, 60_000);
});
