/**
 * The load-test Socket.IO client against a real Sala node (real redis-server), plus the ack-id
 * mapping against a scripted server that answers out of order.
 */
import { afterAll, beforeAll, describe, expect, it, inject } from "vitest";
import { ClientEvent, ErrorCode, ServerEvent, type RoomMessage } from "@sala/protocol";
import { decryptText, encryptText } from "@sala/protocol/envelope";
import { newUsername, registerAndLogin, startNode, TEST_ORIGIN, type TestNode } from "../../services/chat/test/support/cluster.js";
import { uniquePrefix } from "../../services/chat/test/support/redis-client.js";
import { SioClient, type WebSocketFactory, type WebSocketLike } from "../src/sio-client.js";
import { nodeSocketFactory } from "../src/node-socket.js";

interface Frame {
  dir: "in" | "out";
  data: string;
}

/** Wraps a factory to record every frame in both directions. */
function recording(factory: WebSocketFactory, frames: Frame[]): WebSocketFactory {
  return (url, headers) => {
    const inner = factory(url, headers);
    const outer: WebSocketLike = {
      send: (data) => (frames.push({ dir: "out", data }), inner.send(data)),
      close: () => inner.close(),
      onopen: null,
      onmessage: null,
      onclose: null,
      onerror: null,
    };
    inner.onopen = (event) => outer.onopen?.(event);
    inner.onmessage = (event) => (frames.push({ dir: "in", data: String(event.data) }), outer.onmessage?.(event));
    inner.onclose = (event) => outer.onclose?.(event);
    inner.onerror = (event) => outer.onerror?.(event);
    return outer;
  };
}

let node: TestNode;
const clients: SioClient[] = [];

function open(cookie: string | null, factory: WebSocketFactory = nodeSocketFactory, origin: string = TEST_ORIGIN): SioClient {
  const client = new SioClient(factory, { baseUrl: node.url, cookie, origin });
  clients.push(client);
  return client;
}

beforeAll(async () => {
  const prefix = uniquePrefix("loadtest");
  node = await startNode(`${prefix}-n1`, inject("redisUrl"), prefix);
  // Sala has no setting for the ping interval; shorten it on this test node so that real server
  // pings happen within the test (engine.io reads these options for each new connection).
  node.node.io.engine.opts.pingInterval = 300;
  node.node.io.engine.opts.pingTimeout = 300;
});
afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  await node.node.close();
});

describe("SioClient against a Sala node", () => {
  it("connects with the session cookie, gets the lobby, creates and joins a room, and delivers an encrypted text", async () => {
    const ana = newUsername("ana");
    const bob = newUsername("bob");
    const [anaCookie, bobCookie] = await Promise.all([registerAndLogin(node, ana), registerAndLogin(node, bob)]);

    const a = open(anaCookie);
    const lobby = a.next(ServerEvent.lobby); // registered before the connect: the snapshot follows `40` at once
    expect(await a.connected).toMatch(/\S+/);
    expect((await lobby).users).toContain(ana);

    const created = await a.request(ClientEvent.createRoom, { name: newUsername("room") });
    if (!created.ok) throw new Error(created.error.code);
    const roomId = created.room.id;
    const joinedA = await a.request(ClientEvent.joinRoom, { roomId });
    if (!joinedA.ok) throw new Error(joinedA.error.code);
    expect(joinedA.room.id).toBe(roomId);

    const b = open(bobCookie);
    await b.connected;
    const joinedB = await b.request(ClientEvent.joinRoom, { roomId });
    expect(joinedB.ok && joinedB.members).toEqual(expect.arrayContaining([ana, bob]));

    const delivered = b.next(ServerEvent.text, (message) => message.roomId === roomId);
    const sent = await a.request(ClientEvent.text, { roomId, msg: encryptText("hola desde k6", roomId, joinedA.key), id: "loadtest-msg-0001" });
    if (!sent.ok) throw new Error(sent.error.code);
    const message: RoomMessage = await delivered;
    expect(message).toMatchObject({ roomId, from: ana, seq: sent.seq, ts: sent.ts });
    expect(decryptText(message.msg, roomId, (id) => (id === joinedA.key.id ? joinedA.key.key : undefined))).toMatchObject({ ok: true, text: "hola desde k6" });

    // The same id again: the server answers with the first answer, no duplicate.
    const again = await a.request(ClientEvent.text, { roomId, msg: encryptText("hola desde k6", roomId, joinedA.key), id: "loadtest-msg-0001" });
    expect(again).toEqual(sent);

    expect(await a.close()).toBe("io client disconnect");
    expect(await b.close()).toBe("io client disconnect");
  });

  it("maps every ack to its own request when many are in flight", async () => {
    const cookie = await registerAndLogin(node, newUsername("ids"));
    const c = open(cookie);
    await c.connected;
    const created = await c.request(ClientEvent.createRoom, { name: newUsername("ids") });
    if (!created.ok) throw new Error(created.error.code);
    const roomId = created.room.id;
    const joined = await c.request(ClientEvent.joinRoom, { roomId });
    if (!joined.ok) throw new Error(joined.error.code);
    for (let i = 0; i < 5; i++) {
      const sent = await c.request(ClientEvent.text, { roomId, msg: encryptText(`m${i}`, roomId, joined.key) });
      expect(sent.ok).toBe(true);
    }

    // Different events, different answers, all in flight at once (and one failing request).
    const names = [1, 2, 3].map(() => newUsername("many"));
    const [missing, h1, r1, h2, r2, h3, r3, h4, h5] = await Promise.all([
      c.request(ClientEvent.joinRoom, { roomId: "AAAAAAAAAAAAAAAA" }),
      c.request(ClientEvent.history, { roomId, limit: 1 }),
      c.request(ClientEvent.createRoom, { name: names[0]! }),
      c.request(ClientEvent.history, { roomId, limit: 2 }),
      c.request(ClientEvent.createRoom, { name: names[1]! }),
      c.request(ClientEvent.history, { roomId, limit: 3 }),
      c.request(ClientEvent.createRoom, { name: names[2]! }),
      c.request(ClientEvent.history, { roomId, limit: 4 }),
      c.request(ClientEvent.history, { roomId, limit: 5 }),
    ]);
    expect(missing).toMatchObject({ ok: false, error: { code: ErrorCode.ROOM_NOT_FOUND } });
    expect([h1, h2, h3, h4, h5].map((page) => (page.ok ? page.messages.length : -1))).toEqual([1, 2, 3, 4, 5]);
    expect([r1, r2, r3].map((answer) => (answer.ok ? answer.room.name : answer.error.code))).toEqual(names);
  });

  it("rejects a connect the server's middleware refuses with its code (44 packet): one socket past MAX_SOCKETS_PER_USER", async () => {
    const cookie = await registerAndLogin(node, newUsername("capped"));
    const allowed = Array.from({ length: node.node.config.socketCaps.perUser }, () => open(cookie));
    await Promise.all(allowed.map((client) => client.connected));
    const frames: Frame[] = [];
    const refused = open(cookie, recording(nodeSocketFactory, frames));
    await expect(refused.connected).rejects.toThrow(ErrorCode.TOO_MANY_SOCKETS);
    expect(await refused.closed).toBe(`connect_error: ${ErrorCode.TOO_MANY_SOCKETS}`);
    expect(frames.find((frame) => frame.data.startsWith("44"))?.data).toContain(ErrorCode.TOO_MANY_SOCKETS);
    await expect(refused.request(ClientEvent.lobby, {})).rejects.toThrow(/closed/);
    await Promise.all(allowed.map((client) => client.close()));
  });

  it("fails the connect of a client without a session at the transport: no Engine.IO session is opened", async () => {
    const frames: Frame[] = [];
    const anonymous = open(null, recording(nodeSocketFactory, frames));
    await expect(anonymous.connected).rejects.toThrow(/transport/);
    expect(frames.filter((frame) => frame.dir === "in")).toEqual([]);
  });

  it("fails the connect of a foreign origin (refused at the upgrade)", async () => {
    const cookie = await registerAndLogin(node, newUsername("foreign"));
    const foreign = open(cookie, nodeSocketFactory, "http://evil.example");
    await expect(foreign.connected).rejects.toThrow(/transport/);
  });

  it("answers each server ping with a pong and stays connected across several ping intervals", async () => {
    const frames: Frame[] = [];
    const c = open(await registerAndLogin(node, newUsername("ping")), recording(nodeSocketFactory, frames));
    await c.connected;
    const open0 = JSON.parse(frames.find((frame) => frame.dir === "in" && frame.data.startsWith("0"))!.data.slice(1));
    expect(open0).toMatchObject({ pingInterval: 300, pingTimeout: 300 });
    await new Promise((resolve) => setTimeout(resolve, 1500)); // > 2 × (pingInterval + pingTimeout)
    const pings = frames.filter((frame) => frame.dir === "in" && frame.data === "2").length;
    const pongs = frames.filter((frame) => frame.dir === "out" && frame.data === "3").length;
    expect(pings).toBeGreaterThanOrEqual(3);
    expect(pongs).toBe(pings);
    // Each pong right after its ping.
    frames.forEach((frame, i) => {
      if (frame.dir === "in" && frame.data === "2") expect(frames.slice(i + 1).find((next) => next.dir === "out")?.data).toBe("3");
    });
    const answer = await c.request(ClientEvent.lobby, {});
    expect(answer.ok).toBe(true);
  });
});

/** A scripted server: records what the client sends, and lets the test push frames to it. */
function scripted(): { factory: WebSocketFactory; sent: string[]; push(frame: string): void; url: () => string; headers: () => Record<string, string> } {
  const sent: string[] = [];
  let socket: WebSocketLike | undefined;
  let lastUrl = "";
  let lastHeaders: Record<string, string> = {};
  const factory: WebSocketFactory = (url, headers) => {
    lastUrl = url;
    lastHeaders = headers;
    socket = { send: (data) => void sent.push(data), close: () => socket?.onclose?.({}), onopen: null, onmessage: null, onclose: null, onerror: null };
    return socket;
  };
  return { factory, sent, push: (frame) => socket!.onmessage!({ data: frame }), url: () => lastUrl, headers: () => lastHeaders };
}

describe("SioClient framing (scripted server)", () => {
  it("builds the websocket URL and headers, sends the auth in 40, and routes out-of-order acks to their own requests", async () => {
    const server = scripted();
    const client = new SioClient(server.factory, { baseUrl: "https://sala.example/", cookie: "sala.sid=abc", origin: "https://sala.example", auth: { rooms: ["AAAAAAAAAAAAAAAA"] } });
    expect(server.url()).toBe("wss://sala.example/socket.io/?EIO=4&transport=websocket");
    expect(server.headers()).toEqual({ cookie: "sala.sid=abc", origin: "https://sala.example" });
    server.push('0{"sid":"e1","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}');
    expect(server.sent).toEqual(['40{"rooms":["AAAAAAAAAAAAAAAA"]}']);
    server.push('40{"sid":"s1"}');
    expect(await client.connected).toBe("s1");

    const answers = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11].map((n) => client.request(ClientEvent.history, { roomId: "AAAAAAAAAAAAAAAA", limit: n + 1 }));
    expect(server.sent.slice(1).map((frame) => /^42(\d+)\[/.exec(frame)?.[1])).toEqual(["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11"]);
    // Answer in reverse order, each with the limit its request asked for.
    for (let id = 11; id >= 0; id--) {
      const request = JSON.parse(server.sent[id + 1]!.replace(/^42\d+/, "")) as [string, { limit: number }];
      server.push(`43${id}[{"ok":true,"limit":${request[1].limit}}]`);
    }
    expect((await Promise.all(answers)).map((answer) => (answer as unknown as { limit: number }).limit)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);

    server.push("2");
    expect(server.sent.at(-1)).toBe("3");
    const seen: unknown[] = [];
    client.on(ServerEvent.typing, (event) => seen.push(event));
    server.push('42["typing",{"roomId":"AAAAAAAAAAAAAAAA","username":"ana"}]');
    expect(seen).toEqual([{ roomId: "AAAAAAAAAAAAAAAA", username: "ana" }]);

    const pending = client.request(ClientEvent.lobby, {});
    server.push("41");
    await expect(pending).rejects.toThrow(/io server disconnect/);
    expect(await client.closed).toBe("io server disconnect");
  });
});
