/**
 * A kick that cannot be undone (issue 17, item 1). A member of a private room keeps knocking on
 * every door while the owner kicks them: join_room without the password from sockets on two nodes,
 * history reads, and new sockets that ask the handshake to resume the room. Each of 50 trials then
 * checks that the kicked user is a member nowhere (the store, any node's Socket.IO room), never got
 * the key minted after the kick, and cannot read the owner's message sent after it.
 */
import { afterAll, beforeAll, describe, expect, it, inject } from "vitest";
import { io as connectSocket } from "socket.io-client";
import type { RoomKey } from "@sala/protocol";
import { decryptText, encryptText } from "@sala/protocol/envelope";
import { SocketRooms } from "../src/realtime/types.js";
import {
  connect,
  newUsername,
  registerAndLogin,
  request,
  sleep,
  startCluster,
  TEST_ORIGIN,
  waitFor,
  type ClientSocket,
  type TestCluster,
  type TestNode,
} from "./support/cluster.js";

const TRIALS = 50;
const KNOCKING_SOCKETS = 8;
/** Each knocking socket's pace: under the per-socket event budget (30/s), so nothing is rate-limited away. */
const KNOCK_EVERY_MS = 45;
const RESUME_EVERY_MS = 30;
const PASSWORD = "room password";

let cluster: TestCluster;
let nodes: TestNode[];
let ownerSocket: ClientSocket;
let owner: string;
let attacker: string;
let attackerCookie: string;
const knockers: ClientSocket[] = [];

beforeAll(async () => {
  // The owner creates a room per trial: no quota in the way.
  cluster = await startCluster(2, inject("redisUrl"), { MAX_ROOMS_PER_USER: "0", ROOM_CREATIONS_PER_USER: "1000" });
  nodes = cluster.nodes;
  owner = newUsername("owner");
  attacker = newUsername("mallory");
  ownerSocket = await connect(nodes[0]!, await registerAndLogin(nodes[0]!, owner));
  attackerCookie = await registerAndLogin(nodes[1]!, attacker);
  for (let i = 0; i < KNOCKING_SOCKETS; i++) knockers.push(await connect(nodes[i % 2]!, attackerCookie));
});
afterAll(async () => {
  for (const socket of [ownerSocket, ...knockers]) socket.close();
  await cluster.close();
});

/** What the attacker's sockets got hold of during one trial. */
interface Loot {
  keys: RoomKey[];
  ciphertexts: string[];
}

function collect(socket: ClientSocket, roomId: string, loot: Loot): () => void {
  const onKey = (event: { roomId: string; key: RoomKey }) => event.roomId === roomId && loot.keys.push(event.key);
  const onText = (message: { roomId: string; msg: string }) => message.roomId === roomId && loot.ciphertexts.push(message.msg);
  socket.on("room_key", onKey);
  socket.on("text", onText);
  return () => {
    socket.off("room_key", onKey);
    socket.off("text", onText);
  };
}

/** Any answer that hands out keys or messages: a join's, a history page's. */
function lootFrom(answer: any, loot: Loot): void {
  if (!answer?.ok) return;
  if (answer.key) loot.keys.push(answer.key);
  for (const key of answer.keys ?? []) loot.keys.push(key);
  for (const message of [...(answer.history ?? []), ...(answer.messages ?? [])]) loot.ciphertexts.push(message.msg);
}

/** Knocks until `stop` resolves: join_room and history on every socket, and resuming handshakes. */
async function knock(roomId: string, loot: Loot, stop: Promise<void>): Promise<void> {
  let stopped = false;
  void stop.then(() => (stopped = true));
  const detach = knockers.map((socket) => collect(socket, roomId, loot));
  const onSocket = knockers.map(async (socket, i) => {
    await sleep((i * KNOCK_EVERY_MS) / KNOCKING_SOCKETS); // spread over the interval
    for (let n = 0; !stopped; n++) {
      const event = n % 3 === 2 ? "history" : "join_room";
      request(socket, event, { roomId }, 3000).then((answer) => lootFrom(answer, loot), () => {});
      await sleep(KNOCK_EVERY_MS);
    }
  });
  const resuming = (async () => {
    const opened: Array<Promise<void>> = [];
    for (let n = 0; !stopped; n++) {
      opened.push(resumeOnce(nodes[n % 2]!, roomId, loot));
      await sleep(RESUME_EVERY_MS);
    }
    await Promise.all(opened);
  })();
  await Promise.all([...onSocket, resuming]);
  for (const off of detach) off();
}

/** A new socket that asks the handshake to put it back in the room, listens a moment, and goes. */
async function resumeOnce(node: TestNode, roomId: string, loot: Loot): Promise<void> {
  const socket: ClientSocket = connectSocket(node.url, {
    transports: ["websocket"],
    extraHeaders: { cookie: attackerCookie, origin: TEST_ORIGIN },
    auth: { rooms: [roomId] },
    reconnection: false,
    forceNew: true,
  });
  const detach = collect(socket, roomId, loot);
  await sleep(150);
  detach();
  socket.close();
}

/** The attacker's sockets in the room's Socket.IO room, on every node. */
function attackerSocketsInRoom(roomId: string): number {
  let count = 0;
  for (const { node } of nodes) {
    const namespace = node.io.of("/");
    for (const id of namespace.adapter.rooms.get(SocketRooms.room(roomId)) ?? []) {
      if (namespace.sockets.get(id)?.data.username === attacker) count++;
    }
  }
  return count;
}

function decrypts(ciphertexts: string[], keys: RoomKey[], roomId: string, secret: string): boolean {
  const byId = new Map(keys.map((key) => [key.id, key.key]));
  return ciphertexts.some((msg) => {
    const plain = decryptText(msg, roomId, (id) => byId.get(id));
    return plain.ok && plain.text === secret;
  });
}

describe("a kick while the kicked user keeps knocking", () => {
  it(`holds in ${TRIALS} trials: no re-entry, no key minted after the kick, no message after it decrypted`, async () => {
    const outcomes: Array<{ trial: number; reentered: boolean; newKeyLeaked: boolean; decrypted: boolean }> = [];
    for (let trial = 1; trial <= TRIALS; trial++) {
      const created = await request(ownerSocket, "create_room", { name: newUsername("vault"), password: PASSWORD });
      expect(created.ok).toBe(true);
      const roomId: string = created.room.id;
      expect((await request(ownerSocket, "join_room", { roomId, password: PASSWORD })).ok).toBe(true);
      expect((await request(knockers[0]!, "join_room", { roomId, password: PASSWORD })).ok).toBe(true);

      const loot: Loot = { keys: [], ciphertexts: [] };
      let stopKnocking = () => {};
      const knocking = knock(roomId, loot, new Promise<void>((resolve) => (stopKnocking = resolve)));
      await sleep(60 + (trial % 5) * 20); // the kick lands at a different moment of the knocking each trial

      const rotated = waitFor<{ roomId: string; key: RoomKey }>(ownerSocket, "room_key", (event) => event.roomId === roomId);
      expect((await request(ownerSocket, "kick", { roomId, username: attacker })).ok).toBe(true);
      const newKey: RoomKey = (await rotated).key;
      const secret = `after the kick, trial ${trial}`;
      expect((await request(ownerSocket, "text", { roomId, msg: encryptText(secret, roomId, newKey) })).ok).toBe(true);
      await sleep(200);
      stopKnocking();
      await knocking;
      await sleep(50); // answers still on their way

      const reentered = (await nodes[0]!.node.stores.rooms.isMember(roomId, attacker)) || attackerSocketsInRoom(roomId) > 0;
      const newKeyLeaked = loot.keys.some((key) => key.id >= newKey.id);
      outcomes.push({ trial, reentered, newKeyLeaked, decrypted: decrypts(loot.ciphertexts, loot.keys, roomId, secret) });
    }
    const failed = outcomes.filter((o) => o.reentered || o.newKeyLeaked || o.decrypted);
    console.info(
      `kick race: ${TRIALS} trials, ${outcomes.filter((o) => o.reentered).length} re-entries, ` +
        `${outcomes.filter((o) => o.newKeyLeaked).length} new keys leaked, ${outcomes.filter((o) => o.decrypted).length} decryptions after the kick`,
    );
    expect(failed).toEqual([]);
  }, 180_000);
});
