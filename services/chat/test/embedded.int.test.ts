/**
 * Embedded mode: one node, no REDIS_URL, its own stores (SQLite under DATA_DIR, or memory) and an
 * in-process adapter — what `npm start` gives on a fresh machine. The same flows as the cluster,
 * end to end over real HTTP and sockets, on both stores.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RoomMessage } from "@sala/protocol";
import { decryptText, encryptText } from "@sala/protocol/envelope";
import { connect, newUsername, registerAndLogin, request, startNode, waitFor, type ClientSocket, type TestNode } from "./support/cluster.js";

const stores: { store: string; env: Record<string, string> }[] = [
  { store: "memory", env: { STORE: "memory" } },
  { store: "sqlite", env: { STORE: "sqlite", DATA_DIR: mkdtempSync(join(tmpdir(), "sala-embedded-")) } },
];

describe.each(stores)("embedded mode ($store)", ({ env }) => {
  let node: TestNode;
  const sockets: ClientSocket[] = [];
  beforeAll(async () => {
    node = await startNode("embedded", null, "unused", env);
  });
  afterAll(async () => {
    for (const socket of sockets) socket.close();
    await node.node.close();
    if (env.DATA_DIR) rmSync(env.DATA_DIR, { recursive: true, force: true });
  });

  it("runs the whole chat without Redis", async () => {
    const ana = newUsername("ana");
    const bia = newUsername("bia");
    const anaSocket = await connect(node, await registerAndLogin(node, ana));
    const biaSocket = await connect(node, await registerAndLogin(node, bia));
    sockets.push(anaSocket, biaSocket);
    expect((await request(anaSocket, "lobby", {})).users).toEqual(expect.arrayContaining([ana, bia]));

    const { room } = await request(anaSocket, "create_room", { name: newUsername("room"), password: "pass-1234" });
    const { key } = await request(anaSocket, "join_room", { roomId: room.id, password: "pass-1234" });
    expect((await request(biaSocket, "join_room", { roomId: room.id, password: "nope" })).error.code).toBe("WRONG_PASSWORD");
    expect((await request(biaSocket, "join_room", { roomId: room.id, password: "pass-1234" })).key).toEqual(key);

    const delivered = waitFor<RoomMessage>(biaSocket, "text");
    const ack = await request(anaSocket, "text", { roomId: room.id, msg: encryptText("olá", room.id, key) });
    expect(ack).toMatchObject({ ok: true, seq: 1 });
    const message = await delivered;
    expect(decryptText(message.msg, room.id, () => key.key)).toEqual({ ok: true, text: "olá", keyId: key.id });

    const opened = await request(biaSocket, "open_conversation", { with: ana });
    const whisper = waitFor(anaSocket, "private_message");
    const envelope = encryptText("oi", opened.conversation.id, opened.key);
    expect((await request(biaSocket, "private_message", { to: ana, msg: envelope })).ok).toBe(true);
    expect(await whisper).toMatchObject({ from: bia, to: ana, msg: envelope, seq: 1 });
    // Stored by the node: Ana opens the conversation and reads it.
    const mine = await request(anaSocket, "open_conversation", { with: bia });
    expect(mine.conversation).toMatchObject({ with: bia, unread: 1, lastSeq: 1 });
    expect(decryptText(mine.history[0].msg, mine.conversation.id, () => mine.key.key)).toMatchObject({ ok: true, text: "oi" });

    const rotated = waitFor(anaSocket, "room_key");
    expect((await request(biaSocket, "leave_room", { roomId: room.id })).ok).toBe(true);
    expect((await rotated).key.id).toBe(key.id + 1);
  });
});
