/**
 * Room history over real sockets on two nodes: a late joiner gets the recent messages with the
 * keys to read them (also across a rotation), a member pages back and backfills, a repeated
 * message id posts once, and a non-member gets nothing.
 */
import { afterAll, beforeAll, describe, expect, it, inject } from "vitest";
import { ErrorCode, type RoomMessage } from "@sala/protocol";
import { decryptText, encryptText } from "@sala/protocol/envelope";
import {
  connect,
  newUsername,
  record,
  registerAndLogin,
  request,
  sleep,
  startCluster,
  startNode,
  type ClientSocket,
  type TestCluster,
  type TestNode,
} from "./support/cluster.js";

let cluster: TestCluster;
let n1: TestNode, n2: TestNode;
const sockets: ClientSocket[] = [];
beforeAll(async () => {
  cluster = await startCluster(2, inject("redisUrl"), { JOIN_HISTORY: "5" });
  [n1, n2] = cluster.nodes as [TestNode, TestNode];
});
afterAll(async () => {
  for (const socket of sockets) socket.close();
  await cluster.close();
});

async function user(node: TestNode, label: string): Promise<ClientSocket> {
  const socket = await connect(node, await registerAndLogin(node, newUsername(label)));
  sockets.push(socket);
  return socket;
}

const read = (messages: RoomMessage[], roomId: string, keys: Array<{ id: number; key: string }>) =>
  messages.map((m) => {
    const result = decryptText(m.msg, roomId, (id) => keys.find((k) => k.id === id)?.key);
    return result.ok ? result.text : "?";
  });

describe("room history", () => {
  it("gives a late joiner the latest messages and the keys to read them, across a rotation", async () => {
    const ana = await user(n1, "ana");
    const bia = await user(n2, "bia");
    const { room } = await request(ana, "create_room", { name: newUsername("hist"), password: "hist-pass" });
    const first = (await request(ana, "join_room", { roomId: room.id, password: "hist-pass" })).key;
    await request(bia, "join_room", { roomId: room.id, password: "hist-pass" });
    for (let i = 1; i <= 4; i++) await request(ana, "text", { roomId: room.id, msg: encryptText(`old ${i}`, room.id, first) });
    const rotated = record(ana, "room_key");
    await request(bia, "leave_room", { roomId: room.id }); // private room: the key rotates
    await expect.poll(() => rotated.length).toBe(1);
    const second = rotated[0].key;
    for (let i = 1; i <= 3; i++) await request(ana, "text", { roomId: room.id, msg: encryptText(`new ${i}`, room.id, second) });

    const caio = await user(n2, "caio");
    const joined = await request(caio, "join_room", { roomId: room.id, password: "hist-pass" });
    expect(joined.history.map((m: RoomMessage) => m.seq)).toEqual([3, 4, 5, 6, 7]);
    expect(read(joined.history, room.id, joined.keys)).toEqual(["old 3", "old 4", "new 1", "new 2", "new 3"]);
    expect(joined.keys.map((k: { id: number }) => k.id).sort()).toEqual([first.id, second.id]);
    expect(joined.keys).toContainEqual(joined.key);
    expect((await request(caio, "history", { roomId: room.id, afterSeq: 1, beforeSeq: 5 })).error.code).toBe(ErrorCode.BAD_REQUEST);

    const back = await request(caio, "history", { roomId: room.id, beforeSeq: 3, limit: 10 });
    expect(read(back.messages, room.id, back.keys)).toEqual(["old 1", "old 2"]);
    const after = await request(caio, "history", { roomId: room.id, afterSeq: 5 });
    expect(after.messages.map((m: RoomMessage) => m.seq)).toEqual([6, 7]);
  });

  it("posts a message sent again with the same id once, answering the repeat like the first", async () => {
    const ana = await user(n1, "ana");
    const bia = await user(n2, "bia");
    const { room } = await request(ana, "create_room", { name: newUsername("dedupe") });
    const { key } = await request(ana, "join_room", { roomId: room.id });
    await request(bia, "join_room", { roomId: room.id });
    const delivered = record<RoomMessage>(bia, "text");
    const msg = encryptText("once", room.id, key);
    const firstAnswer = await request(ana, "text", { roomId: room.id, msg, id: "retry-me-123" });
    const repeat = await request(ana, "text", { roomId: room.id, msg, id: "retry-me-123" });
    expect(repeat).toEqual(firstAnswer);
    await sleep(200);
    expect(delivered.map((m) => m.seq)).toEqual([firstAnswer.seq]);
    expect((await request(bia, "history", { roomId: room.id })).messages).toHaveLength(1);
    expect((await request(ana, "text", { roomId: room.id, msg, id: "bad id!" })).error.code).toBe(ErrorCode.BAD_REQUEST);
    // Another member's message with the same id is not a repeat of Ana's.
    const bias = await request(bia, "text", { roomId: room.id, msg: encryptText("mine", room.id, key), id: "retry-me-123" });
    expect(bias.seq).toBe(firstAnswer.seq + 1);
  });

  it("gives nothing to a socket that has not joined the room", async () => {
    const ana = await user(n1, "ana");
    const eve = await user(n2, "eve");
    const { room } = await request(ana, "create_room", { name: newUsername("closed"), password: "closed-pw" });
    const { key } = await request(ana, "join_room", { roomId: room.id, password: "closed-pw" });
    await request(ana, "text", { roomId: room.id, msg: encryptText("secret", room.id, key) });
    expect((await request(eve, "history", { roomId: room.id })).error.code).toBe(ErrorCode.NOT_MEMBER);
    expect((await request(eve, "history", { roomId: room.id, afterSeq: 0 })).error.code).toBe(ErrorCode.NOT_MEMBER);
  });

  it("lets only the owner clear the history or set its retention, and tells the members", async () => {
    const ana = await user(n1, "ana");
    const bia = await user(n2, "bia");
    const { room } = await request(ana, "create_room", { name: newUsername("retain") });
    const { key } = await request(ana, "join_room", { roomId: room.id });
    await request(bia, "join_room", { roomId: room.id });
    for (let i = 1; i <= 4; i++) await request(ana, "text", { roomId: room.id, msg: encryptText(`r${i}`, room.id, key) });
    expect((await request(bia, "set_retention", { roomId: room.id, maxMessages: 1 })).error.code).toBe(ErrorCode.NOT_OWNER);
    expect((await request(bia, "clear_history", { roomId: room.id })).error.code).toBe(ErrorCode.NOT_OWNER);
    expect(await request(ana, "set_retention", { roomId: room.id, maxMessages: 2 })).toEqual({ ok: true, maxMessages: 2 });
    expect((await request(bia, "history", { roomId: room.id })).messages.map((m: RoomMessage) => m.seq)).toEqual([3, 4]);
    const cleared = record(bia, "history_cleared");
    expect((await request(ana, "clear_history", { roomId: room.id })).ok).toBe(true);
    await expect.poll(() => cleared.length).toBe(1);
    expect(cleared[0]).toEqual({ roomId: room.id, by: expect.any(String) });
    expect((await request(bia, "history", { roomId: room.id })).messages).toEqual([]);
  });

  it("hides and trims messages past HISTORY_MAX_AGE_SEC, on a node configured with it", async () => {
    // A third node on the same Redis, with a one-second age cap.
    const aging = await startNode(`${cluster.prefix}-aging`, inject("redisUrl"), cluster.prefix, { HISTORY_MAX_AGE_SEC: "1", JOIN_HISTORY: "5" });
    try {
      const ana = await user(aging, "ana");
      const { room } = await request(ana, "create_room", { name: newUsername("aging") });
      const { key } = await request(ana, "join_room", { roomId: room.id });
      await request(ana, "text", { roomId: room.id, msg: encryptText("soon gone", room.id, key) });
      expect((await request(ana, "history", { roomId: room.id })).messages).toHaveLength(1);
      await sleep(1100);
      expect((await request(ana, "history", { roomId: room.id })).messages).toEqual([]);
      expect((await request(ana, "history", { roomId: room.id, afterSeq: 0 })).messages).toEqual([]);
      expect((await request(ana, "join_room", { roomId: room.id })).history).toEqual([]);
      // The next write trims it from Redis: the other nodes (30-day cap) see only the new message.
      expect((await request(ana, "text", { roomId: room.id, msg: encryptText("fresh", room.id, key) })).seq).toBe(2);
      const bia = await user(n1, "bia");
      await request(bia, "join_room", { roomId: room.id });
      expect((await request(bia, "history", { roomId: room.id })).messages.map((m: { seq: number }) => m.seq)).toEqual([2]);
    } finally {
      await aging.node.close();
    }
  });
});
