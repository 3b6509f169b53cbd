/**
 * The chat across three nodes on one real redis-server: presence, rooms, keys, messages, whispers,
 * logout and the handshake's origin check. Users sit on different nodes on purpose.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, inject } from "vitest";
import { ErrorCode, LobbyState, type RoomMessage, type RoomSummary } from "@sala/protocol";
import { decryptText, encryptText } from "@sala/protocol/envelope";
import { SocketRooms } from "../src/realtime/types.js";
import {
  connect,
  expectNoSessionRefused,
  eventually,
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
  firstLobby,
} from "./support/cluster.js";

let cluster: TestCluster;
let n1: TestNode, n2: TestNode, n3: TestNode;
const sockets: ClientSocket[] = [];

beforeAll(async () => {
  cluster = await startCluster(3, inject("redisUrl"));
  [n1, n2, n3] = cluster.nodes as [TestNode, TestNode, TestNode];
});
afterEach(() => {
  for (const socket of sockets.splice(0)) socket.close();
});
afterAll(() => cluster.close());

/** A logged-in user with a socket on `node` and a live view of the lobby. */
async function user(node: TestNode, label: string) {
  const username = newUsername(label);
  const cookie = await registerAndLogin(node, username);
  const lobby = new LobbyState();
  const socket = await connectWithLobby(node, cookie, lobby);
  return { username, cookie, socket, lobby };
}

async function connectWithLobby(node: TestNode, cookie: string, lobby: LobbyState): Promise<ClientSocket> {
  const socket = await connect(node, cookie);
  sockets.push(socket);
  socket.on("lobby_update", (update) => lobby.applyUpdate(update));
  lobby.applySnapshot(await firstLobby(socket));
  return socket;
}

async function createRoom(socket: ClientSocket, password?: string): Promise<RoomSummary> {
  const answer = await request(socket, "create_room", { name: newUsername("room"), ...(password ? { password } : {}) });
  expect(answer.ok).toBe(true);
  return answer.room;
}

describe("lobby and presence", () => {
  it("shows users online on any node, once per user however many tabs, and offline after the last tab", async () => {
    const ana = await user(n1, "ana");
    const bia = await user(n2, "bia");
    await eventually(() => ana.lobby.onlineUsers().includes(bia.username), 3000, "ana to see bia");
    expect(bia.lobby.onlineUsers()).toContain(ana.username);

    const secondTab = await connect(n3, bia.cookie);
    sockets.push(secondTab);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(ana.lobby.onlineUsers().filter((name) => name === bia.username)).toHaveLength(1);

    bia.socket.close();
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(ana.lobby.onlineUsers()).toContain(bia.username); // one tab still open
    secondTab.close();
    await eventually(() => !ana.lobby.onlineUsers().includes(bia.username), 3000, "bia to go offline");
  });

  it("shows rooms and member counts live to everyone", async () => {
    const ana = await user(n1, "ana");
    const bia = await user(n3, "bia");
    const room = await createRoom(ana.socket);
    await eventually(() => bia.lobby.room(room.id)?.name === room.name, 3000, "bia to see the room");
    expect(bia.lobby.room(room.id)).toMatchObject({ isPrivate: false, memberCount: 0, owner: ana.username });
    expect((await request(bia.socket, "join_room", { roomId: room.id })).ok).toBe(true);
    await eventually(() => ana.lobby.room(room.id)?.memberCount === 1, 3000, "member count 1");
    expect((await request(bia.socket, "leave_room", { roomId: room.id })).ok).toBe(true);
    await eventually(() => ana.lobby.room(room.id)?.memberCount === 0, 3000, "member count 0");
    expect(ana.lobby.room(room.id)).toBeDefined(); // empty rooms stay in the lobby
  });

  it("refuses duplicate room names case-insensitively and bad names", async () => {
    const ana = await user(n1, "ana");
    const room = await createRoom(ana.socket);
    const again = await request(ana.socket, "create_room", { name: room.name.toUpperCase() });
    expect(again).toEqual({ ok: false, error: expect.objectContaining({ code: ErrorCode.ROOM_EXISTS }) });
    const bad = await request(ana.socket, "create_room", { name: "  <script>  " });
    expect(bad.error.code).toBe(ErrorCode.INVALID_ROOM_NAME);
  });
});

describe("private rooms and keys", () => {
  it("lets in only with the right password, and never gives the key to anyone else", async () => {
    const ana = await user(n1, "ana");
    const bia = await user(n2, "bia");
    const eve = await user(n3, "eve");
    const eveKeys = record(eve.socket, "room_key");
    const eveTexts = record(eve.socket, "text");
    const room = await createRoom(ana.socket, "s3cret-pass");
    await eventually(() => bia.lobby.room(room.id)?.isPrivate === true, 3000, "bia to see the lock");

    const anaJoin = await request(ana.socket, "join_room", { roomId: room.id, password: "s3cret-pass" });
    expect(anaJoin.ok).toBe(true);
    const noPassword = await request(bia.socket, "join_room", { roomId: room.id });
    expect(noPassword.error.code).toBe(ErrorCode.WRONG_PASSWORD);
    const wrong = await request(bia.socket, "join_room", { roomId: room.id, password: "guess" });
    expect(wrong).toEqual({ ok: false, error: { code: ErrorCode.WRONG_PASSWORD, message: expect.any(String) } });
    expect(JSON.stringify(wrong)).not.toContain(anaJoin.key.key);
    const right = await request(bia.socket, "join_room", { roomId: room.id, password: "s3cret-pass" });
    expect(right.ok).toBe(true);
    expect(right.key).toEqual(anaJoin.key);
    expect(right.key.key).toMatch(/^[A-Za-z0-9+/]{43}=$/); // 32 bytes
    expect(right.members.sort()).toEqual([ana.username, bia.username].sort());

    await request(ana.socket, "text", { roomId: room.id, msg: encryptText("hello bia", room.id, anaJoin.key) });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(eveKeys).toEqual([]);
    expect(eveTexts).toEqual([]);
    const eveSend = await request(eve.socket, "text", { roomId: room.id, msg: encryptText("let me in", room.id, anaJoin.key) });
    expect(eveSend.error.code).toBe(ErrorCode.NOT_MEMBER);
  });

  it("throttles wrong passwords per user and room", async () => {
    const ana = await user(n1, "ana");
    const bia = await user(n2, "bia");
    const room = await createRoom(ana.socket, "right-one");
    for (let i = 0; i < 5; i++) {
      expect((await request(bia.socket, "join_room", { roomId: room.id, password: `wrong${i}` })).error.code).toBe(ErrorCode.WRONG_PASSWORD);
    }
    const blocked = await request(bia.socket, "join_room", { roomId: room.id, password: "right-one" });
    expect(blocked.error.code).toBe(ErrorCode.RATE_LIMITED);
    expect(blocked.error.retryAfterMs).toBeGreaterThan(0);
  });

  it("rotates the key when a member leaves or is kicked; the departed never get the new key", async () => {
    const ana = await user(n1, "ana");
    const bia = await user(n2, "bia");
    const caio = await user(n3, "caio");
    const room = await createRoom(ana.socket, "rotate-me");
    const join = (u: { socket: ClientSocket }) => request(u.socket, "join_room", { roomId: room.id, password: "rotate-me" });
    const first = (await join(ana)).key;
    await join(bia);
    await join(caio);
    const biaKeys = record(bia.socket, "room_key");
    const caioKeys = record(caio.socket, "room_key");

    const anaNotices = record(ana.socket, "member_left");
    const nextKey = waitFor(ana.socket, "room_key");
    expect((await request(caio.socket, "leave_room", { roomId: room.id })).ok).toBe(true);
    const second = (await nextKey).key;
    expect(second.id).toBe(first.id + 1);
    expect(second.key).not.toBe(first.key);
    await eventually(() => biaKeys.length === 1, 3000, "bia to get the new key");
    expect(biaKeys[0].key).toEqual(second);
    expect(caioKeys).toEqual([]);
    await eventually(() => anaNotices.length === 1, 3000, "leave notice");
    expect(anaNotices[0]).toEqual({ roomId: room.id, username: caio.username, reason: "left" });

    // A message under the retired key is refused; under the new one it is accepted.
    const stale = await request(ana.socket, "text", { roomId: room.id, msg: encryptText("old key", room.id, first) });
    expect(stale.error.code).toBe(ErrorCode.STALE_KEY);
    expect((await request(ana.socket, "text", { roomId: room.id, msg: encryptText("new key", room.id, second) })).ok).toBe(true);

    const kicked = waitFor(bia.socket, "kicked");
    const thirdKey = waitFor(ana.socket, "room_key");
    const biaTexts = record<RoomMessage>(bia.socket, "text");
    const kickNotice = waitFor(ana.socket, "member_left", (event) => event.reason === "kicked");
    expect((await request(ana.socket, "kick", { roomId: room.id, username: bia.username.toUpperCase() })).ok).toBe(true);
    expect(await kicked).toMatchObject({ roomId: room.id, by: ana.username });
    expect(await kickNotice).toEqual({ roomId: room.id, username: bia.username, reason: "kicked" });
    const third = (await thirdKey).key;
    expect(third.id).toBe(second.id + 1);
    await request(ana.socket, "text", { roomId: room.id, msg: encryptText("after the kick", room.id, third) });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(biaKeys.map((event) => event.key.id)).toEqual([second.id]);
    expect(biaTexts.map((m) => m.msg).filter((msg) => msg.startsWith(`v1.${third.id}.`))).toEqual([]);
    // Kicked means out: the password is needed again (and bia's sockets left the room).
    expect((await request(bia.socket, "text", { roomId: room.id, msg: encryptText("x", room.id, third) })).error.code).toBe(ErrorCode.NOT_MEMBER);
  });

  it("takes the leaver's other tabs out with them, and tells those tabs", async () => {
    const ana = await user(n1, "ana");
    const bia = await user(n2, "bia");
    const biaOtherTab = await connectWithLobby(n3, bia.cookie, new LobbyState());
    const room = await createRoom(ana.socket);
    const { key } = await request(ana.socket, "join_room", { roomId: room.id });
    for (const socket of [bia.socket, biaOtherTab]) expect((await request(socket, "join_room", { roomId: room.id })).ok).toBe(true);
    const anaNotices = record(ana.socket, "member_left");
    const otherTabNotices = record(biaOtherTab, "member_left");
    const otherTabTexts = record<RoomMessage>(biaOtherTab, "text");

    expect((await request(bia.socket, "leave_room", { roomId: room.id })).ok).toBe(true);
    await eventually(() => anaNotices.length === 1 && otherTabNotices.length === 1, 3000, "leave notices");
    const notice = { roomId: room.id, username: bia.username, reason: "left" };
    expect(anaNotices).toEqual([notice]);
    expect(otherTabNotices).toEqual([notice]);
    expect((await request(ana.socket, "text", { roomId: room.id, msg: encryptText("after bia left", room.id, key) })).ok).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(otherTabTexts).toEqual([]);
  });

  it("only the owner kicks or deletes; deletion returns members to the lobby", async () => {
    const ana = await user(n1, "ana");
    const bia = await user(n2, "bia");
    const room = await createRoom(ana.socket);
    await request(bia.socket, "join_room", { roomId: room.id });
    expect((await request(bia.socket, "kick", { roomId: room.id, username: ana.username })).error.code).toBe(ErrorCode.NOT_OWNER);
    expect((await request(bia.socket, "delete_room", { roomId: room.id })).error.code).toBe(ErrorCode.NOT_OWNER);
    const deleted = waitFor(bia.socket, "room_deleted");
    expect((await request(ana.socket, "delete_room", { roomId: room.id })).ok).toBe(true);
    expect(await deleted).toEqual({ roomId: room.id, name: room.name });
    // Every socket left the deleted room's Socket.IO room, on both nodes (and so its channel).
    const socketRoom = SocketRooms.room(room.id);
    await eventually(() => [n1, n2].every((n) => !n.node.io.of("/").adapter.rooms.has(socketRoom)), 3000, "sockets to leave the room");
    await eventually(() => bia.lobby.room(room.id) === undefined, 3000, "room to leave the lobby");
    expect((await request(bia.socket, "join_room", { roomId: room.id })).error.code).toBe(ErrorCode.ROOM_NOT_FOUND);
  });
});

describe("room messages", () => {
  it("reach members on every node with increasing sequence numbers, and never non-members", async () => {
    const ana = await user(n1, "ana");
    const bia = await user(n2, "bia");
    const caio = await user(n3, "caio");
    const eve = await user(n3, "eve");
    const room = await createRoom(ana.socket);
    const { key } = await request(ana.socket, "join_room", { roomId: room.id });
    await request(bia.socket, "join_room", { roomId: room.id });
    await request(caio.socket, "join_room", { roomId: room.id });
    const got = { bia: record<RoomMessage>(bia.socket, "text"), caio: record<RoomMessage>(caio.socket, "text"), eve: record<RoomMessage>(eve.socket, "text") };

    const acks = [];
    for (let i = 0; i < 20; i++) {
      const before = Date.now();
      const ack = await request(ana.socket, "text", { roomId: room.id, msg: encryptText(`message ${i}`, room.id, key) });
      expect(ack).toEqual({ ok: true, seq: expect.any(Number), ts: expect.any(Number) });
      expect(ack.ts).toBeGreaterThanOrEqual(before - 1000);
      acks.push(ack);
    }
    const seqs = acks.map((ack) => ack.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(20);
    await eventually(() => got.bia.length === 20 && got.caio.length === 20, 3000, "deliveries");
    for (const messages of [got.bia, got.caio]) {
      expect(messages.map((m) => m.seq)).toEqual(seqs);
      expect(messages.every((m) => m.from === ana.username && m.roomId === room.id)).toBe(true);
      const texts = messages.map((m) => decryptText(m.msg, room.id, (id) => (id === key.id ? key.key : undefined)));
      expect(texts.map((t) => (t.ok ? t.text : null))).toEqual(acks.map((_, i) => `message ${i}`));
    }
    expect(got.eve).toEqual([]);
  });

  it("reach every member, on every node, in sequence order while members on three nodes send at once", async () => {
    const members = [await user(n1, "ana"), await user(n2, "bia"), await user(n3, "caio"), await user(n1, "dora")];
    const room = await createRoom(members[0]!.socket);
    let key = { id: 0, key: "" };
    for (const member of members) ({ key } = await request(member.socket, "join_room", { roomId: room.id }));
    const got = members.map((member) => record<RoomMessage>(member.socket, "text"));

    // Each sender fires its messages without waiting for the acks: on every node, messages
    // accepted elsewhere interleave with those accepted here.
    const perSender = 15;
    const acks = await Promise.all(
      members.slice(0, 3).flatMap((member) =>
        Array.from({ length: perSender }, (_, i) => request(member.socket, "text", { roomId: room.id, msg: encryptText(`${member.username} ${i}`, room.id, key) })),
      ),
    );
    expect(acks.every((ack) => ack.ok)).toBe(true);
    const total = 3 * perSender;
    await eventually(() => got.every((messages) => messages.length === total), 5000, "deliveries");
    for (const messages of got) expect(messages.map((m) => m.seq)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
  });

  it("give a joining member every message sent meanwhile: in the join's history or live, none in neither", async () => {
    // A cluster of its own: the sender fires messages back to back, above the default event rate.
    const busy = await startCluster(2, inject("redisUrl"), { SOCKET_EVENTS_PER_SEC: "5000" });
    const own: ClientSocket[] = [];
    try {
      const [m1, m2] = busy.nodes as [TestNode, TestNode];
      const connectAs = async (node: TestNode, label: string) => {
        const socket = await connect(node, await registerAndLogin(node, newUsername(label)));
        own.push(socket);
        return socket;
      };
      const bob = await connectAs(m1, "bob");
      const ana = await connectAs(m2, "ana");
      const room = await createRoom(bob);
      const { key } = await request(bob, "join_room", { roomId: room.id });
      let sending = true;
      let sent = 0;
      const sender = (async () => {
        while (sending) {
          const ack = await request(bob, "text", { roomId: room.id, msg: encryptText(`m${sent}`, room.id, key) });
          expect(ack.ok).toBe(true);
          sent++;
        }
      })();
      await eventually(() => sent >= 5, 3000, "first messages");

      const live = record<RoomMessage>(ana, "text");
      const missed: number[] = [];
      for (let attempt = 0; attempt < 15; attempt++) {
        live.length = 0;
        const joined = await request(ana, "join_room", { roomId: room.id });
        expect(joined.ok).toBe(true);
        const fromHistory: number[] = joined.history.map((m: RoomMessage) => m.seq);
        const lastHeld = Math.max(...fromHistory);
        await eventually(() => live.some((m) => m.seq > lastHeld + 3), 3000, "live messages after the join");
        const held = new Set([...fromHistory, ...live.map((m) => m.seq)]);
        for (let seq = Math.min(...fromHistory); seq <= Math.max(...held); seq++) if (!held.has(seq)) missed.push(seq);
        expect((await request(ana, "leave_room", { roomId: room.id })).ok).toBe(true);
      }
      sending = false;
      await sender;
      expect(missed).toEqual([]);
    } finally {
      for (const socket of own) socket.close();
      await busy.close();
    }
  });

  it("relays typing to the other members only", async () => {
    const ana = await user(n1, "ana");
    const bia = await user(n2, "bia");
    const eve = await user(n3, "eve");
    const room = await createRoom(ana.socket);
    await request(ana.socket, "join_room", { roomId: room.id });
    await request(bia.socket, "join_room", { roomId: room.id });
    const eveTyping = record(eve.socket, "typing");
    const anaTyping = record(ana.socket, "typing");
    const seen = waitFor(bia.socket, "typing");
    expect((await request(ana.socket, "typing", { roomId: room.id })).ok).toBe(true);
    expect(await seen).toEqual({ roomId: room.id, username: ana.username });
    await request(ana.socket, "typing", { roomId: room.id }); // within the throttle window: not relayed
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(eveTyping).toEqual([]);
    expect(anaTyping).toEqual([]);
  });
});

describe("a resuming join (a client back into its rooms)", () => {
  it("lets a member back in, and never makes a member of one who left meanwhile on another device", async () => {
    const ana = await user(n1, "ana");
    const bia = await user(n2, "bia");
    const room = (await request(ana.socket, "create_room", { name: newUsername("resume") })).room;
    expect((await request(bia.socket, "join_room", { roomId: room.id })).ok).toBe(true);
    const joined = record(ana.socket, "member_joined");
    // bia, back on another tab: a member, so in.
    const again = await connect(n3, bia.cookie);
    sockets.push(again);
    expect(await request(again, "join_room", { roomId: room.id, resume: true })).toMatchObject({ ok: true, members: expect.arrayContaining([bia.username]) });
    // bia leaves on one device; the other tab, reconnecting, asks to resume: refused, and she stays out.
    expect((await request(bia.socket, "leave_room", { roomId: room.id })).ok).toBe(true);
    expect((await request(again, "join_room", { roomId: room.id, resume: true })).error.code).toBe(ErrorCode.NOT_MEMBER);
    expect((await request(ana.socket, "join_room", { roomId: room.id })).members).toEqual([ana.username]);
    await sleep(200);
    expect(joined).toEqual([]); // nobody saw her come back
    // A plain join (a click) still lets her in.
    expect((await request(again, "join_room", { roomId: room.id })).ok).toBe(true);
  });
});

describe("sessions and the handshake", () => {
  it("logout closes that session's sockets on every node", async () => {
    const ana = await user(n1, "ana");
    const other = await connect(n2, ana.cookie);
    const third = await connect(n3, ana.cookie);
    const otherSession = await connect(n2, await (async () => {
      const response = await fetch(`${n3.url}/login`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ username: ana.username, password: "correct horse battery" }),
      });
      return response.headers.get("set-cookie")!.split(";")[0]!;
    })());
    sockets.push(other, third, otherSession);
    const told = [ana.socket, other, third].map((socket) => new Promise((resolve) => socket.once("signed_out", resolve)));
    const closed = [ana.socket, other, third].map((socket) => new Promise((resolve) => socket.once("disconnect", resolve)));
    const response = await fetch(`${n2.url}/logout`, { method: "POST", headers: { cookie: ana.cookie } });
    expect(response.status).toBe(200);
    // Each is told why before it is closed: a tab shows "you logged out in another tab".
    expect(await Promise.all(told)).toEqual([{ reason: "logged_out" }, { reason: "logged_out" }, { reason: "logged_out" }]);
    await Promise.all(closed);
    // Another device's session stays connected; the old cookie no longer opens a socket.
    expect(otherSession.connected).toBe(true);
    await expectNoSessionRefused(n1, ana.cookie);
  });

  it("a login sent with a logged-in session replaces it: that session's sockets on every node are told and closed", async () => {
    const ana = await user(n1, "ana");
    const other = await connect(n3, ana.cookie);
    sockets.push(other);
    const told = [ana.socket, other].map((socket) => new Promise((resolve) => socket.once("signed_out", resolve)));
    const response = await fetch(`${n2.url}/login`, {
      method: "POST",
      headers: { "content-type": "application/json", cookie: ana.cookie },
      body: JSON.stringify({ username: ana.username, password: "correct horse battery" }),
    });
    expect(response.status).toBe(200);
    expect(await Promise.all(told)).toEqual([{ reason: "logged_in_again" }, { reason: "logged_in_again" }]);
    await expectNoSessionRefused(n1, ana.cookie);
    const fresh = await connect(n1, response.headers.get("set-cookie")!.split(";")[0]!);
    sockets.push(fresh);
    expect(fresh.connected).toBe(true);
  });

  it("refuses a handshake without a session, or with a valid cookie from a foreign origin", async () => {
    const ana = await user(n1, "ana");
    await expectNoSessionRefused(n2, null);
    await expectNoSessionRefused(n2, "sala.sid=s%3Aforged.signature");
    // Ana's real session id, but with a signature that is not the server's, or with none.
    const signed = decodeURIComponent(ana.cookie.split("=")[1]!); // "s:<session id>.<signature>"
    const [sessionId, signature] = signed.slice(2).split(".") as [string, string];
    const flipped = `${signature.slice(0, -1)}${signature.endsWith("A") ? "B" : "A"}`;
    await expectNoSessionRefused(n2, `sala.sid=${encodeURIComponent(`s:${sessionId}.${flipped}`)}`);
    await expectNoSessionRefused(n2, `sala.sid=${encodeURIComponent(sessionId)}`);
    sockets.push(await connect(n2, ana.cookie)); // the same session, signed by the server: accepted
    await expect(connect(n2, ana.cookie, "http://evil.example")).rejects.toThrow();
    const check = await fetch(`${n2.url}/socket.io/?EIO=4&transport=polling`, { headers: { cookie: ana.cookie, origin: "http://evil.example" } });
    expect(check.status).toBe(403);
  });
});
