/**
 * Issue 22, item 3: the embedded node remembers. A real node process on its SQLite store (no Redis,
 * no SESSION_SECRET: the one it keeps in DATA_DIR) is SIGKILLed in the middle of a chat — messages
 * in flight, nothing flushed by a shutdown — and started again on the same DATA_DIR. Every message
 * it acknowledged is in the history, byte for byte; every account logs in; the room, its password,
 * its members and its key are as they were; whispers and their unread count too; login throttles
 * hold; and the sessions of before the crash still open sockets.
 */
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { encryptText } from "@sala/protocol/envelope";
import type { RoomMessage } from "@sala/protocol";
import { startChildNode, type ChildNode } from "./support/child-node.js";
import { connect, newUsername, PASSWORD, post, registerAndLogin, request, type ClientSocket } from "./support/cluster.js";

const dataDir = mkdtempSync(join(tmpdir(), "sala-durable-"));
const sockets: ClientSocket[] = [];
/** Messages Ana has on their way when the node dies: far more than it acknowledges before the kill. */
const SENT = 3000;
let node: ChildNode | null = null;

/** The embedded node on `dataDir`: SQLite (the tests' default is memory), its own session secret. */
const startEmbedded = () => startChildNode("durable", null, "unused", { STORE: "sqlite", DATA_DIR: dataDir, SESSION_SECRET: null, SOCKET_EVENTS_PER_SEC: "5000", LOGIN_MAX_FAILS_PER_USER_IP: "3", LOGIN_DELAY_MAX_SEC: "0" });

afterAll(async () => {
  for (const socket of sockets) socket.close();
  await node?.kill();
  rmSync(dataDir, { recursive: true, force: true });
});

describe("the embedded node on SQLite", () => {
  it("keeps every acknowledged message, account, room, key, whisper and session across a SIGKILL", async () => {
    node = await startEmbedded();
    const ana = newUsername("ana");
    const bia = newUsername("bia");
    const anaCookie = await registerAndLogin(node, ana);
    const biaCookie = await registerAndLogin(node, bia);
    const anaSocket = await connect(node, anaCookie);
    const biaSocket = await connect(node, biaCookie);
    sockets.push(anaSocket, biaSocket);
    // Its data and its session secret, for this user only (keys, history and hashes are in the file).
    for (const file of ["sala.sqlite", "sala.sqlite-wal", "session-secret"]) expect(statSync(join(dataDir, file)).mode & 0o777, file).toBe(0o600);

    const { room } = await request(anaSocket, "create_room", { name: newUsername("room"), password: "pass-1234" });
    const { key } = await request(anaSocket, "join_room", { roomId: room.id, password: "pass-1234" });
    await request(biaSocket, "join_room", { roomId: room.id, password: "pass-1234" });
    const opened = await request(biaSocket, "open_conversation", { with: ana });
    const whisper = encryptText("até já", opened.conversation.id, opened.key);
    expect((await request(biaSocket, "private_message", { to: ana, msg: whisper })).ok).toBe(true);

    // A password guesser who used up its attempts on Dora: stopped, even with the right password.
    const dora = newUsername("dora");
    await registerAndLogin(node, dora);
    for (let i = 0; i < 3; i++) expect((await post(`${node.url}/login`, { username: dora, password: `guess ${i}` })).status).toBe(401);
    expect((await post(`${node.url}/login`, { username: dora, password: PASSWORD })).status).toBe(429);

    // Ana sends without waiting; the node is killed while messages are on their way.
    const acked = new Map<number, string>();
    const sent: Promise<void>[] = [];
    for (let i = 0; i < SENT; i++) {
      const envelope = encryptText(`message ${i}`, room.id, key);
      sent.push(
        request(anaSocket, "text", { roomId: room.id, msg: envelope }, 3000).then(
          (ack: { ok?: boolean; seq?: number }) => {
            if (ack.ok && ack.seq) acked.set(ack.seq, envelope);
          },
          () => undefined, // never answered: the node died first
        ),
      );
    }
    while (acked.size < 150) await new Promise((resolve) => setTimeout(resolve, 2));
    await node.kill("SIGKILL");
    await Promise.all(sent);
    expect(acked.size).toBeGreaterThanOrEqual(150);
    expect(acked.size).toBeLessThan(SENT); // killed mid-chat, not after it
    anaSocket.close();
    biaSocket.close();

    node = await startEmbedded();
    // The sessions of before: sockets open with the old cookies, as the same users.
    const anaAgain = await connect(node, anaCookie);
    const biaAgain = await connect(node, biaCookie);
    sockets.push(anaAgain, biaAgain);
    // Accounts: passwords check as before.
    for (const username of [ana, bia]) expect((await post(`${node.url}/login`, { username, password: PASSWORD })).status).toBe(200);
    expect((await post(`${node.url}/login`, { username: ana, password: "not the password" })).status).toBe(401);
    // The throttles too: a restart does not forgive the guesser.
    expect((await post(`${node.url}/login`, { username: dora, password: PASSWORD })).status).toBe(429);

    // The room: both still members (no password asked), the same key, the password still checked.
    expect((await request(biaAgain, "my_rooms", {})).rooms.map((r: { id: string }) => r.id)).toContain(room.id);
    const back = await request(biaAgain, "join_room", { roomId: room.id, resume: true });
    expect(back.key).toEqual(key);
    expect(back.members).toEqual(expect.arrayContaining([ana, bia]));
    const carla = await connect(node, await registerAndLogin(node, newUsername("carla")));
    sockets.push(carla);
    expect((await request(carla, "join_room", { roomId: room.id, password: "wrong-pass" })).error.code).toBe("WRONG_PASSWORD");

    // Every acknowledged message, byte for byte, in order and without a gap below the last one.
    const stored = new Map<number, string>();
    let afterSeq = 0;
    for (;;) {
      const page = await request(biaAgain, "history", { roomId: room.id, afterSeq, limit: 200 });
      const messages = page.messages as RoomMessage[];
      if (messages.length === 0) break;
      for (const message of messages) stored.set(message.seq, message.msg);
      afterSeq = messages.at(-1)!.seq;
    }
    for (const [seq, envelope] of acked) expect(stored.get(seq), `message ${seq}`).toBe(envelope);
    const lastSeq = Math.max(...stored.keys());
    expect([...stored.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: lastSeq }, (_, i) => i + 1));
    // And the room goes on from there, Ana back in it without its password.
    expect((await request(anaAgain, "join_room", { roomId: room.id, resume: true })).key).toEqual(key);
    expect(await request(anaAgain, "text", { roomId: room.id, msg: encryptText("again", room.id, key) })).toMatchObject({ ok: true, seq: lastSeq + 1 });

    // The whisper, and that Ana has not read it.
    const mine = await request(anaAgain, "open_conversation", { with: bia });
    expect(mine.conversation).toMatchObject({ with: bia, unread: 1, lastSeq: 1 });
    expect(mine.history[0].msg).toBe(whisper);
    expect(mine.key).toEqual(opened.key);
  }, 60_000);
});
