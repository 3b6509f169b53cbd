/**
 * Persisted, encrypted 1-to-1 conversations on two nodes: whispers are stored and reach every
 * socket of both users, the key goes only to the two participants, an offline user reads later,
 * unread counts are the same on every socket of a user, and marking read on one clears the others.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ErrorCode, type ConversationSummary, type RoomKey, type Whisper } from "@sala/protocol";
import { decryptText, encryptText } from "@sala/protocol/envelope";
import {
  connect,
  newUsername,
  record,
  registerAndLogin,
  request,
  sleep,
  startCluster,
  waitFor,
  type ClientSocket,
  type TestCluster,
  type TestNode,
} from "./support/cluster.js";

let cluster: TestCluster;
let n1: TestNode, n2: TestNode;
const sockets: ClientSocket[] = [];
beforeAll(async () => {
  cluster = await startCluster(2, inject("redisUrl"));
  [n1, n2] = cluster.nodes as [TestNode, TestNode];
});
afterAll(async () => {
  for (const socket of sockets) socket.close();
  await cluster.close();
});

interface Person {
  username: string;
  cookie: string;
}

async function person(label: string): Promise<Person> {
  const username = newUsername(label);
  return { username, cookie: await registerAndLogin(n1, username) };
}

async function tab(who: Person, node: TestNode): Promise<ClientSocket> {
  const socket = await connect(node, who.cookie);
  sockets.push(socket);
  return socket;
}

const read = (messages: Whisper[], keys: RoomKey[]) =>
  messages.map((m) => {
    const result = decryptText(m.msg, m.conversationId, (id) => keys.find((k) => k.id === id)?.key);
    return result.ok ? result.text : null;
  });

async function whisper(socket: ClientSocket, to: string, text: string, opened: { conversation: ConversationSummary; key: RoomKey }, id?: string) {
  return request(socket, "private_message", { to, msg: encryptText(text, opened.conversation.id, opened.key), ...(id ? { id } : {}) });
}

describe("conversations", () => {
  it("store a whisper and deliver it to every socket of both users, on both nodes, once", async () => {
    const ana = await person("ana");
    const bia = await person("bia");
    const [ana1, ana2, bia1, bia2] = await Promise.all([tab(ana, n1), tab(ana, n2), tab(bia, n2), tab(bia, n1)]);
    const opened = await request(ana1, "open_conversation", { with: bia.username.toUpperCase() });
    const id = `dm:${[ana.username, bia.username].map((n) => n.toLowerCase()).sort().join(":")}`;
    expect(opened).toMatchObject({ ok: true, conversation: { id, with: bia.username, unread: 0, lastSeq: 0 }, history: [] });
    expect(opened.keys).toEqual([opened.key]);
    const inboxes = [ana1, ana2, bia1, bia2].map((socket) => record<Whisper>(socket, "private_message"));

    const ack = await whisper(ana1, bia.username, "psst", opened, "whisper-id-1");
    expect(ack).toEqual({ ok: true, ts: expect.any(Number), to: bia.username, seq: 1, conversationId: id });
    expect(await whisper(ana1, bia.username, "psst", opened, "whisper-id-1")).toEqual(ack); // a retry posts once
    await expect.poll(() => inboxes.map((inbox) => inbox.length)).toEqual([1, 1, 1, 1]);
    await sleep(100);
    for (const inbox of inboxes) {
      expect(inbox).toEqual([{ conversationId: id, seq: 1, from: ana.username, to: bia.username, ts: ack.ts, msg: expect.any(String) }]);
      expect(inbox[0]!.msg).not.toContain("psst");
    }

    // Bia opens the same conversation (any node) and gets the same key, and the stored whisper.
    const hers = await request(bia2, "open_conversation", { with: ana.username });
    expect(hers.key).toEqual(opened.key);
    expect(hers.conversation).toMatchObject({ id, with: ana.username, unread: 1, lastSeq: 1, lastTs: ack.ts });
    expect(read(hers.history, hers.keys)).toEqual(["psst"]);
    expect(read(inboxes[2]!, hers.keys)).toEqual(["psst"]);
  });

  it("give the key only to the two participants: a third user cannot open, read or join their conversation", async () => {
    const ana = await person("ana");
    const bia = await person("bia");
    const eve = await person("eve");
    const [anaSocket, biaSocket, eveSocket] = await Promise.all([tab(ana, n1), tab(bia, n2), tab(eve, n2)]);
    const eveSaw = record(eveSocket, "private_message");
    const opened = await request(anaSocket, "open_conversation", { with: bia.username });
    await whisper(anaSocket, bia.username, "for bia only", opened);
    await waitFor(biaSocket, "private_message");

    // Whatever Eve names, she gets her own conversations, never theirs.
    const withAna = await request(eveSocket, "open_conversation", { with: ana.username });
    const withBia = await request(eveSocket, "open_conversation", { with: bia.username });
    for (const own of [withAna, withBia]) {
      expect(own.ok).toBe(true);
      expect(own.conversation.id).not.toBe(opened.conversation.id);
      expect(own.key.key).not.toBe(opened.key.key);
      expect(own.history).toEqual([]);
    }
    expect((await request(eveSocket, "conversation_history", { with: bia.username })).messages).toEqual([]);
    const list = (await request(eveSocket, "conversations", {})).conversations as ConversationSummary[];
    expect(list.map((c) => c.id)).not.toContain(opened.conversation.id);
    // An envelope of theirs replayed by Eve lands in her own conversation with Bia, where its MAC fails.
    const theirs = encryptText("spoof", opened.conversation.id, opened.key);
    const replay = await request(eveSocket, "private_message", { to: bia.username, msg: theirs });
    expect(replay.conversationId).toBe(withBia.conversation.id);
    const fetched = await request(biaSocket, "open_conversation", { with: eve.username });
    expect(decryptText(fetched.history[0].msg, fetched.conversation.id, () => opened.key.key)).toEqual({ ok: false, reason: "bad-mac" });
    expect(eveSaw.filter((w: Whisper) => w.conversationId === opened.conversation.id)).toEqual([]);
  });

  it("keep whispers for an offline user, with unread counts shared by all their sockets and cleared by mark_read on any", async () => {
    const ana = await person("ana");
    const bia = await person("bia"); // never connected yet: offline
    const anaSocket = await tab(ana, n1);
    const opened = await request(anaSocket, "open_conversation", { with: bia.username });
    for (let i = 1; i <= 3; i++) expect((await whisper(anaSocket, bia.username, `note ${i}`, opened)).seq).toBe(i);

    const [phone, laptop] = await Promise.all([tab(bia, n1), tab(bia, n2)]);
    for (const socket of [phone, laptop]) {
      const { conversations } = await request(socket, "conversations", {});
      expect(conversations).toEqual([{ id: opened.conversation.id, with: ana.username, unread: 3, lastSeq: 3, lastTs: expect.any(Number) }]);
    }
    const cleared = waitFor(laptop, "conversation_read");
    const phoneSaw = record(phone, "conversation_read");
    const marked = await request(phone, "mark_read", { with: ana.username, seq: 2 });
    expect(marked).toMatchObject({ ok: true, conversation: { unread: 1, lastSeq: 3 } });
    expect(await cleared).toEqual({ conversationId: opened.conversation.id, with: ana.username, seq: 2, unread: 1 });
    expect((await request(laptop, "conversations", {})).conversations[0].unread).toBe(1);
    expect(phoneSaw).toEqual([]); // the socket that marked it has its ack

    // A reply reads the rest; Ana now has one unread.
    const hers = await request(laptop, "open_conversation", { with: ana.username });
    await whisper(laptop, ana.username, "got them", hers);
    expect((await request(phone, "conversations", {})).conversations[0].unread).toBe(0);
    expect((await request(anaSocket, "conversations", {})).conversations[0]).toMatchObject({ with: bia.username, unread: 1, lastSeq: 4 });

    // After every socket is gone and back, the history is still there.
    phone.close();
    laptop.close();
    const again = await tab(bia, n2);
    const reopened = await request(again, "open_conversation", { with: ana.username });
    expect(read(reopened.history, reopened.keys)).toEqual(["note 1", "note 2", "note 3", "got them"]);
    const back = await request(again, "conversation_history", { with: ana.username, beforeSeq: 3, limit: 1 });
    expect(read(back.messages, back.keys)).toEqual(["note 2"]);
    const after = await request(again, "conversation_history", { with: ana.username, afterSeq: 2 });
    expect(after.messages.map((m: Whisper) => m.seq)).toEqual([3, 4]);
  });

  it("refuse stale keys, unopened conversations, unknown users and self", async () => {
    const ana = await person("ana");
    const bia = await person("bia");
    const anaSocket = await tab(ana, n1);
    const ghost = newUsername("ghost");
    const stray = encryptText("hi", `dm:${ana.username}:${bia.username}`.toLowerCase(), { id: 1, key: Buffer.alloc(32).toString("base64") });
    expect((await request(anaSocket, "private_message", { to: bia.username, msg: stray })).error.code).toBe(ErrorCode.BAD_REQUEST);
    const opened = await request(anaSocket, "open_conversation", { with: bia.username });
    const stale = encryptText("hi", opened.conversation.id, { id: 2, key: opened.key.key });
    expect((await request(anaSocket, "private_message", { to: bia.username, msg: stale })).error.code).toBe(ErrorCode.STALE_KEY);
    expect((await request(anaSocket, "open_conversation", { with: ghost })).error.code).toBe(ErrorCode.USER_NOT_FOUND);
    expect((await request(anaSocket, "private_message", { to: ghost, msg: stale })).error.code).toBe(ErrorCode.USER_NOT_FOUND);
    expect((await request(anaSocket, "open_conversation", { with: ana.username.toUpperCase() })).error.code).toBe(ErrorCode.SELF_WHISPER);
    expect((await request(anaSocket, "private_message", { to: ana.username, msg: stale })).error.code).toBe(ErrorCode.SELF_WHISPER);
    expect((await request(anaSocket, "conversation_history", { with: bia.username, afterSeq: 1, beforeSeq: 3 })).error.code).toBe(ErrorCode.BAD_REQUEST);
    // Nothing was stored by the refused ones.
    expect((await request(anaSocket, "conversation_history", { with: bia.username })).messages).toEqual([]);
  });
});
