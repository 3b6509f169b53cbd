/**
 * A full restart — every node and Redis (AOF, infra/redis.conf) — keeps accounts, sessions, rooms,
 * keys, history and conversations: users log in again (or keep their session), find their room
 * and their conversation (with its unread count), and read the messages and whispers written
 * before the restart with the same keys.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decryptText, encryptText } from "@sala/protocol/envelope";
import { ProcessCluster } from "../src/cluster.js";
import { ask, connectClient, PASSWORD, registerAndLogin, type TestClient } from "./clients.js";

let cluster: ProcessCluster;
const clients: TestClient[] = [];

beforeAll(async () => {
  cluster = await ProcessCluster.start({ nodes: 2, persistent: true });
}, 60_000);
afterAll(async () => {
  for (const client of clients) client.socket.close();
  await cluster?.stop();
});

describe("a full restart of Redis and every node", () => {
  it("keeps users, sessions, rooms, keys, history and conversations", async () => {
    const run = Date.now().toString(36).slice(-5);
    const ana = `dur${run}a`;
    const cookie = await registerAndLogin(cluster.url, ana);
    const before = await connectClient(cluster.url, ana, cookie);
    clients.push(before);
    const { room } = await ask(before.socket, "create_room", { name: `durable ${run}`, password: "keep-it" });
    const { key } = await ask(before.socket, "join_room", { roomId: room.id, password: "keep-it" });
    for (let i = 1; i <= 3; i++) {
      expect((await ask(before.socket, "text", { roomId: room.id, msg: encryptText(`before restart ${i}`, room.id, key) })).ok).toBe(true);
    }
    // A conversation with a user who is offline all along: two whispers, unread for him.
    const bruno = `${ana}b`;
    const brunoCookie = await registerAndLogin(cluster.url, bruno);
    const opened = await ask(before.socket, "open_conversation", { with: bruno });
    for (const text of ["whisper 1", "whisper 2"]) {
      expect((await ask(before.socket, "private_message", { to: bruno, msg: encryptText(text, opened.conversation.id, opened.key) })).ok).toBe(true);
    }
    before.socket.close();

    for (const node of cluster.nodes) await node.stop();
    await cluster.redis.stop(); // SIGTERM: Redis fsyncs its AOF
    await cluster.redis.start();
    for (const node of cluster.nodes) await node.start();

    // The old session still works (sessions live in Redis), and so does the password.
    const session = await fetch(`${cluster.url}/session`, { headers: { cookie } });
    expect(await session.json()).toEqual({ ok: true, username: ana });
    const login = await fetch(`${cluster.url}/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: ana, password: PASSWORD }),
    });
    expect(login.status).toBe(200);

    const after = await connectClient(cluster.url, ana, cookie);
    clients.push(after);
    const lobby = await ask(after.socket, "lobby", {});
    expect(lobby.rooms.find((r: { id: string }) => r.id === room.id)).toMatchObject({ name: `durable ${run}`, isPrivate: true, owner: ana });
    // The room's password survived too (a new member must give it).
    const stranger = await connectClient(cluster.url, `${ana}x`, await registerAndLogin(cluster.url, `${ana}x`));
    clients.push(stranger);
    expect((await ask(stranger.socket, "join_room", { roomId: room.id, password: "wrong" })).error.code).toBe("WRONG_PASSWORD");
    const joined = await ask(after.socket, "join_room", { roomId: room.id, password: "keep-it" });
    expect(joined.ok).toBe(true);
    const texts = joined.history.map((m: { msg: string }) => {
      const result = decryptText(m.msg, room.id, (id) => joined.keys.find((k: { id: number }) => k.id === id)?.key);
      return result.ok ? result.text : null;
    });
    expect(texts).toEqual(["before restart 1", "before restart 2", "before restart 3"]);
    // Numbering goes on where it stopped.
    const next = await ask(after.socket, "text", { roomId: room.id, msg: encryptText("after restart", room.id, joined.key) });
    expect(next.seq).toBe(4);

    // The conversation: listed with its unread count, the same key, both whispers readable.
    const him = await connectClient(cluster.url, bruno, brunoCookie);
    clients.push(him);
    const { conversations } = await ask(him.socket, "conversations", {});
    expect(conversations).toEqual([{ id: opened.conversation.id, with: ana, unread: 2, lastSeq: 2, lastTs: expect.any(Number) }]);
    const his = await ask(him.socket, "open_conversation", { with: ana });
    expect(his.key).toEqual(opened.key);
    const whispers = his.history.map((m: { msg: string }) => {
      const result = decryptText(m.msg, his.conversation.id, (id) => his.keys.find((k: { id: number }) => k.id === id)?.key);
      return result.ok ? result.text : null;
    });
    expect(whispers).toEqual(["whisper 1", "whisper 2"]);
    const reply = await ask(him.socket, "private_message", { to: ana, msg: encryptText("after restart", his.conversation.id, his.key) });
    expect(reply.seq).toBe(3);
  }, 90_000);
});
