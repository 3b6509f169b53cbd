/**
 * Rooms that their owners and the server keep in hand (issue 17, items 2, 3b and 4), on two nodes
 * sharing one real redis-server: a kick bars the user until the owner lifts it; one user cannot
 * own or create rooms without limit; empty rooms expire; names in payloads are usernames.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, inject } from "vitest";
import { randomBytes } from "node:crypto";
import { conversationId, ErrorCode, type RoomKey, type RoomSummary } from "@sala/protocol";
import { decryptText, encryptText } from "@sala/protocol/envelope";
import { SocketRooms } from "../src/realtime/types.js";
import {
  connect,
  connectWith,
  eventually,
  firstLobby,
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

const sockets: ClientSocket[] = [];
afterEach(() => {
  for (const socket of sockets.splice(0)) socket.close();
});

async function user(node: TestNode, label: string) {
  const username = newUsername(label);
  const cookie = await registerAndLogin(node, username);
  const socket = await connect(node, cookie);
  sockets.push(socket);
  return { username, cookie, socket };
}

async function createRoom(socket: ClientSocket, password?: string): Promise<RoomSummary> {
  const answer = await request(socket, "create_room", { name: newUsername("room"), ...(password ? { password } : {}) });
  expect(answer).toMatchObject({ ok: true });
  return answer.room;
}

describe("kick and unban", () => {
  let cluster: TestCluster;
  let n1: TestNode, n2: TestNode;
  beforeAll(async () => {
    cluster = await startCluster(2, inject("redisUrl"));
    [n1, n2] = cluster.nodes as [TestNode, TestNode];
  });
  afterAll(() => cluster.close());

  it("bars a kicked user from a public room on every node until the owner unbans them, and shows the owner who is barred", async () => {
    const owner = await user(n1, "owner");
    const bob = await user(n2, "bob");
    const room = await createRoom(owner.socket);
    expect((await request(owner.socket, "join_room", { roomId: room.id })).banned).toEqual([]);
    expect((await request(bob.socket, "join_room", { roomId: room.id })).ok).toBe(true);
    const bans = record(owner.socket, "ban_changed");

    const kicked = waitFor(bob.socket, "kicked");
    expect((await request(owner.socket, "kick", { roomId: room.id, username: bob.username.toUpperCase() })).ok).toBe(true);
    expect(await kicked).toMatchObject({ roomId: room.id, by: owner.username });

    // Back through every door, on either node: refused.
    const bobOnN1 = await connect(n1, bob.cookie);
    sockets.push(bobOnN1);
    for (const socket of [bob.socket, bobOnN1]) {
      expect((await request(socket, "join_room", { roomId: room.id })).error.code).toBe(ErrorCode.BANNED);
      const envelope = encryptText("let me back", room.id, { id: 1, key: randomBytes(32).toString("base64") });
      expect((await request(socket, "text", { roomId: room.id, msg: envelope })).error.code).toBe(ErrorCode.NOT_MEMBER);
    }
    const resumed = await connectWith(n2, { cookie: bob.cookie, auth: { rooms: [room.id] } });
    sockets.push(resumed);
    expect(n2.node.io.of("/").sockets.get(resumed.id!)?.rooms.has(SocketRooms.room(room.id))).toBe(false);
    expect((await request(resumed, "history", { roomId: room.id })).error.code).toBe(ErrorCode.NOT_MEMBER);

    // The owner sees who is barred: live, and on a later join.
    await eventually(() => bans.length === 1, 2000, "ban_changed");
    expect(bans[0]).toEqual({ roomId: room.id, username: bob.username, banned: true });
    expect((await request(owner.socket, "join_room", { roomId: room.id })).banned).toEqual([bob.username]);
    // Others see no barred list, and may not lift a bar.
    const carol = await user(n2, "carol");
    expect((await request(carol.socket, "join_room", { roomId: room.id })).banned).toEqual([]);
    expect((await request(carol.socket, "unban", { roomId: room.id, username: bob.username })).error.code).toBe(ErrorCode.NOT_OWNER);

    expect((await request(owner.socket, "unban", { roomId: room.id, username: bob.username })).ok).toBe(true);
    await eventually(() => bans.length === 2, 2000, "ban_changed (lifted)");
    expect(bans[1]).toEqual({ roomId: room.id, username: bob.username, banned: false });
    expect((await request(owner.socket, "join_room", { roomId: room.id })).banned).toEqual([]);
    expect((await request(bob.socket, "join_room", { roomId: room.id })).ok).toBe(true);
  });

  it("leaves nothing to a socket whose resuming handshake was still under way when the kick landed", async () => {
    const owner = await user(n1, "owner");
    const bob = await user(n2, "bob");
    const witness = await user(n2, "witness");
    const room = await createRoom(owner.socket);
    const joined = await request(owner.socket, "join_room", { roomId: room.id });
    for (const member of [bob, witness]) expect((await request(member.socket, "join_room", { roomId: room.id })).ok).toBe(true);

    // Hold bob's next handshake on n2 after every middleware of the node (the resume included).
    let reached = () => {};
    let release = () => {};
    const held = new Promise<void>((resolve) => (reached = resolve));
    const released = new Promise<void>((resolve) => (release = resolve));
    let holding = true;
    n2.node.io.use((socket, next) => {
      if (!holding || socket.data.username !== bob.username) return next();
      holding = false;
      reached();
      void released.then(() => next());
    });
    const resuming = connectWith(n2, { cookie: bob.cookie, auth: { rooms: [room.id] } });
    await held;
    const rotated = waitFor<{ roomId: string; key: RoomKey }>(owner.socket, "room_key", (event) => event.roomId === room.id);
    expect((await request(owner.socket, "kick", { roomId: room.id, username: bob.username })).ok).toBe(true);
    const newKey = (await rotated).key;
    expect(newKey.id).toBe(joined.key.id + 1); // a kick rotates a public room's key too
    release();
    const lingering = await resuming;
    sockets.push(lingering);
    const keys = record(lingering, "room_key");
    const texts = record(lingering, "text");

    const delivered = waitFor(witness.socket, "text", (message: { roomId: string }) => message.roomId === room.id);
    const secret = encryptText("after the kick", room.id, newKey);
    expect((await request(owner.socket, "text", { roomId: room.id, msg: secret })).ok).toBe(true);
    await delivered;
    await eventually(() => !n2.node.io.of("/").sockets.get(lingering.id!)?.rooms.has(SocketRooms.room(room.id)), 2000, "the lingering socket out of the room");
    expect(keys).toEqual([]);
    const oldKeys = new Map([[joined.key.id, joined.key.key]]);
    expect(texts.filter((message) => decryptText(message.msg, room.id, (id) => oldKeys.get(id)).ok)).toEqual([]);
    expect((await request(lingering, "history", { roomId: room.id })).error.code).toBe(ErrorCode.NOT_MEMBER);
  });

  it("bars someone who is not in the room at the moment, without telling them", async () => {
    const owner = await user(n1, "owner");
    const eve = await user(n2, "eve");
    const room = await createRoom(owner.socket);
    const told = record(eve.socket, "kicked");
    expect((await request(owner.socket, "kick", { roomId: room.id, username: eve.username })).ok).toBe(true);
    expect((await request(eve.socket, "join_room", { roomId: room.id })).error.code).toBe(ErrorCode.BANNED);
    expect(told).toEqual([]); // `kicked` would have come before the join's answer, on the same socket
    // Only real accounts can be barred (a room's list is bounded by MAX_BARRED_PER_ROOM as well).
    expect((await request(owner.socket, "kick", { roomId: room.id, username: "nobody-here" })).error.code).toBe(ErrorCode.USER_NOT_FOUND);
    expect((await request(owner.socket, "join_room", { roomId: room.id })).banned).toEqual([eve.username]);
  });
});

describe("room quotas", () => {
  let cluster: TestCluster;
  let n1: TestNode, n2: TestNode;
  beforeAll(async () => {
    cluster = await startCluster(2, inject("redisUrl"), { MAX_ROOMS_PER_USER: "3", ROOM_CREATIONS_PER_USER: "5", ROOM_CREATION_WINDOW_SEC: "60" });
    [n1, n2] = cluster.nodes as [TestNode, TestNode];
  });
  afterAll(() => cluster.close());

  it("lets one user own at most MAX_ROOMS_PER_USER rooms, whatever node they ask, until they delete one", async () => {
    const ana = await user(n1, "ana");
    const other = await connect(n2, ana.cookie);
    sockets.push(other);
    const rooms = [await createRoom(ana.socket), await createRoom(other), await createRoom(ana.socket)];
    const refused = await request(other, "create_room", { name: newUsername("room") });
    expect(refused.error.code).toBe(ErrorCode.QUOTA_EXCEEDED);
    expect((await request(ana.socket, "lobby", {})).rooms.filter((r: RoomSummary) => r.owner === ana.username)).toHaveLength(3);
    expect((await request(ana.socket, "delete_room", { roomId: rooms[0]!.id })).ok).toBe(true);
    await createRoom(other);
  });

  it("answers a flood of creations from one user with RATE_LIMITED past ROOM_CREATIONS_PER_USER, creating nothing more", async () => {
    const flooder = await user(n1, "flooder");
    const before = (await firstLobby(flooder.socket)).rooms.length;
    // Eight sockets on both nodes, 25 creations each (within each socket's event budget). Public
    // rooms: private ones also meet the password-hash queue (floods.int.test.ts), whose BUSY
    // answers would blur the counts this test is about.
    const floodSockets = [flooder.socket];
    for (let i = 1; i < 8; i++) floodSockets.push(await connect(i % 2 ? n2 : n1, flooder.cookie));
    sockets.push(...floodSockets);
    const answers = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        request(floodSockets[i % 8]!, "create_room", { name: newUsername("flood") }, 10_000),
      ),
    );
    const created = answers.filter((answer) => answer.ok);
    const limited = answers.filter((answer) => answer.error?.code === ErrorCode.RATE_LIMITED);
    const overQuota = answers.filter((answer) => answer.error?.code === ErrorCode.QUOTA_EXCEEDED);
    // Five creations pass the rate limit; the quota keeps three of them.
    expect(created).toHaveLength(3);
    expect(overQuota).toHaveLength(2);
    expect(limited).toHaveLength(195);
    expect(limited.every((answer) => answer.error.retryAfterMs > 0)).toBe(true);
    const after = await request(flooder.socket, "lobby", {});
    expect(after.rooms.length - before).toBe(3);
  });
});

describe("idle rooms", () => {
  let cluster: TestCluster;
  let n1: TestNode, n2: TestNode;
  beforeAll(async () => {
    cluster = await startCluster(2, inject("redisUrl"), { ROOM_IDLE_EXPIRY_SEC: "1" });
    [n1, n2] = cluster.nodes as [TestNode, TestNode];
  });
  afterAll(() => cluster.close());

  it("deletes a room left empty for ROOM_IDLE_EXPIRY_SEC, and the lobby on every node sees it go; a room with a member stays", async () => {
    const ana = await user(n1, "ana");
    const watcher = await user(n2, "watcher");
    const idle = await createRoom(ana.socket);
    const busy = await createRoom(ana.socket);
    expect((await request(ana.socket, "join_room", { roomId: idle.id })).ok).toBe(true);
    expect((await request(ana.socket, "leave_room", { roomId: idle.id })).ok).toBe(true);
    expect((await request(watcher.socket, "join_room", { roomId: busy.id })).ok).toBe(true);
    const removed = waitFor(watcher.socket, "lobby_update", (update: any) => update.rooms.some((change: any) => change.removed === idle.id), 6000);
    await removed;
    expect(await n2.node.stores.rooms.get(idle.id)).toBeNull();
    await sleep(1500); // past another sweep
    expect(await n1.node.stores.rooms.get(busy.id)).not.toBeNull();
    const names = (await request(watcher.socket, "lobby", {})).rooms.map((r: RoomSummary) => r.id);
    expect(names).toContain(busy.id);
    expect(names).not.toContain(idle.id);
  });
});

describe("names in payloads", () => {
  let cluster: TestCluster;
  let n1: TestNode;
  beforeAll(async () => {
    cluster = await startCluster(1, inject("redisUrl"));
    [n1] = cluster.nodes as [TestNode];
  });
  afterAll(() => cluster.close());

  it("refuses a username that is not one (another key family, a hash tag) with BAD_REQUEST, the same whoever it names", async () => {
    const mallory = await user(n1, "mallory");
    const alice = await user(n1, "alice");
    const room = await createRoom(alice.socket);
    await request(alice.socket, "join_room", { roomId: room.id });
    for (const name of [`${alice.username}:rooms`, `${mallory.username}:rooms`, `${alice.username}:conversations`, "{room:x}", "a b", "ab"]) {
      for (const [event, payload] of [
        ["open_conversation", { with: name }],
        ["conversation_history", { with: name }],
        ["mark_read", { with: name, seq: 1 }],
        ["private_message", { to: name, msg: encryptText("psst", conversationId(mallory.username, alice.username), { id: 1, key: randomBytes(32).toString("base64") }) }],
        ["kick", { roomId: room.id, username: name }],
        ["unban", { roomId: room.id, username: name }],
      ] as const) {
        const answer = await request(mallory.socket, event, payload);
        expect(answer.error?.code, `${event} ${name}`).toBe(ErrorCode.BAD_REQUEST);
      }
      await sleep(250); // within the socket's event budget
    }
  });
});
