/**
 * The bare baseline for benchmarks: plain Socket.IO 4 relaying Sala's events with none of Sala's
 * work — no sessions, no validation, no rate limits, no presence, no history, no Redis state. A
 * client names itself in the handshake auth (`{ username }`). With BASELINE_REDIS_URL it uses the
 * same sharded Redis adapter as Sala (so "adapter alone" can be measured); otherwise the in-memory
 * adapter of a single node. Sequence numbers are per node (`count * nodes + index`): unique within
 * a room, which is all the load driver's loss and duplicate counting needs.
 *
 * Env: PORT (0 = any), BASELINE_REDIS_URL, BASELINE_NODE_INDEX (0-based), BASELINE_NODES.
 * Prints one JSON line `{"event":"baseline_started","port":N}` when listening.
 */
import { createServer } from "node:http";
import { randomBytes } from "node:crypto";
import { Server, type Socket } from "socket.io";
import { createShardedAdapter } from "@socket.io/redis-adapter";
import { Redis } from "ioredis";
import { conversationId } from "@sala/protocol";

const port = Number(process.env.PORT ?? 0);
const nodeIndex = Number(process.env.BASELINE_NODE_INDEX ?? 0);
const nodeCount = Number(process.env.BASELINE_NODES ?? 1);
const redisUrl = process.env.BASELINE_REDIS_URL;

type Ack = (answer: object) => void;
const keys = new Map<string, { id: number; key: string }>();
const counters = new Map<string, number>();

function nextSeq(roomId: string): number {
  const count = (counters.get(roomId) ?? 0) + 1;
  counters.set(roomId, count);
  return count * nodeCount + nodeIndex;
}

function keyOf(scope: string): { id: number; key: string } {
  // Deterministic per room or conversation, so every baseline node hands out the same key without shared state.
  let key = keys.get(scope);
  if (!key) keys.set(scope, (key = { id: 1, key: Buffer.from(scope.padEnd(32, "k").slice(0, 32)).toString("base64") }));
  return key;
}

function onConnection(socket: Socket): void {
  const username = String((socket.handshake.auth as { username?: unknown }).username ?? socket.id);
  void socket.join(`user:${username}`);
  socket.on("create_room", (payload: { name: string }, ack: Ack) => {
    const id = randomBytes(12).toString("base64url").slice(0, 16);
    ack({ ok: true, room: { id, name: payload.name, owner: username, isPrivate: false, memberCount: 0, createdAt: Date.now() } });
  });
  socket.on("join_room", (payload: { roomId: string }, ack: Ack) => {
    void socket.join(`room:${payload.roomId}`);
    const key = keyOf(payload.roomId);
    ack({ ok: true, room: { id: payload.roomId }, members: [], key, history: [], keys: [key] });
  });
  socket.on("delete_room", (_payload: { roomId: string }, ack: Ack) => ack({ ok: true }));
  socket.on("text", (payload: { roomId: string; msg: string }, ack: Ack) => {
    const message = { roomId: payload.roomId, seq: nextSeq(payload.roomId), from: username, ts: Date.now(), msg: payload.msg };
    io.to(`room:${payload.roomId}`).emit("text", message);
    ack({ ok: true, seq: message.seq, ts: message.ts });
  });
  socket.on("open_conversation", (payload: { with: string }, ack: Ack) => {
    const id = conversationId(username, payload.with);
    const key = keyOf(id);
    ack({ ok: true, conversation: { id, with: payload.with, unread: 0, lastSeq: 0, lastTs: 0 }, key, keys: [key], history: [] });
  });
  socket.on("private_message", (payload: { to: string; msg: string }, ack: Ack) => {
    const id = conversationId(username, payload.to);
    const whisper = { conversationId: id, seq: nextSeq(id), from: username, to: payload.to, ts: Date.now(), msg: payload.msg };
    io.to([`user:${payload.to}`, `user:${username}`]).emit("private_message", whisper);
    ack({ ok: true, ts: whisper.ts, to: payload.to, seq: whisper.seq, conversationId: id });
  });
}

const http = createServer();
const io = new Server(http, { transports: ["websocket"], serveClient: false });
if (redisUrl) {
  const pub = new Redis(redisUrl);
  const sub = pub.duplicate();
  // The adapter is created once both connections are ready (see DESIGN.md: ioredis#2037).
  await Promise.all([pub, sub].map((client) => new Promise((resolve) => client.once("ready", resolve))));
  io.adapter(createShardedAdapter(pub, sub, { channelPrefix: "baseline:sio", subscriptionMode: "dynamic" }));
}
io.on("connection", onConnection);
http.listen(port, "127.0.0.1", () => {
  const address = http.address();
  process.stdout.write(`${JSON.stringify({ event: "baseline_started", port: typeof address === "object" && address ? address.port : port })}\n`);
});
process.on("SIGTERM", () => {
  io.close();
  process.exit(0);
});
