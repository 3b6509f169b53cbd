/**
 * The bounded lobby across two nodes on a real redis-server (issue 19): a snapshot holds counts and
 * a first page (LOBBY_PAGE_SIZE=3 here, 100 by default), every user and room is reachable through
 * `lobby_users` / `lobby_rooms`, and a socket is sent the changes of what it can see only: the
 * first page, the pages it asked for, its conversation partners. Names sort on purpose: `a…` are on
 * the first page, `z…` are past it.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, inject } from "vitest";
import { encryptText } from "@sala/protocol/envelope";
import { ErrorCode, LobbyState, type LobbyCounts, type LobbyUpdate, type RoomSummary } from "@sala/protocol";
import {
  connect,
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

const PAGE = 3;
/** Long enough for a change that was going to be sent to have arrived (flushes are 20 and 100 ms here). */
const QUIET_MS = 600;

let cluster: TestCluster;
let n1: TestNode, n2: TestNode;
const sockets: ClientSocket[] = [];

beforeAll(async () => {
  cluster = await startCluster(2, inject("redisUrl"), { LOBBY_PAGE_SIZE: String(PAGE) });
  [n1, n2] = cluster.nodes as [TestNode, TestNode];
});
afterEach(async () => {
  // Membership outlasts the sockets: each test's users leave their rooms, so the next test's rooms
  // can take the first page (which goes to the most members).
  const closing = sockets.splice(0);
  for (const socket of closing) {
    if (!socket.connected) continue;
    const mine = await request(socket, "my_rooms", {});
    for (const room of mine.ok ? (mine.rooms as RoomSummary[]) : []) await request(socket, "leave_room", { roomId: room.id });
  }
  for (const socket of closing) socket.close();
});
afterAll(() => cluster.close());

/** Every test gets its own letters, so that its users sort together and apart from other tests'. */
let testLetter = 0;
const letters = () => String.fromCharCode(98 + testLetter++); // b, c, d, … (a sorts before all of them)

/** A new user, online on `node`, with a live view of the lobby. */
async function online(node: TestNode, username: string) {
  return tab(node, username, await registerAndLogin(node, username));
}

/** A socket of a logged-in user (another tab), with its own view of the lobby. */
async function tab(node: TestNode, username: string, cookie: string) {
  const socket = await connect(node, cookie);
  sockets.push(socket);
  const lobby = new LobbyState();
  const updates = record<LobbyUpdate>(socket, "lobby_update");
  const counts = record<LobbyCounts>(socket, "lobby_counts");
  socket.on("lobby_update", (update) => lobby.applyUpdate(update));
  socket.on("lobby_counts", (c) => lobby.applyCounts(c));
  const snapshot = await firstLobby(socket);
  lobby.applySnapshot(snapshot);
  return { username, cookie, socket, lobby, updates, counts, snapshot };
}

const mentions = (updates: LobbyUpdate[], username: string) => updates.some((update) => update.presence.some((change) => change.username === username));
const mentionsRoom = (updates: LobbyUpdate[], id: string) =>
  updates.some((update) => update.rooms.some((change) => ("removed" in change ? change.removed : change.room.id) === id));

describe("the lobby snapshot", () => {
  it("holds the counts, the first page of users and of rooms, the user's partners and rooms, and never more", async () => {
    const tag = letters();
    const early = [`${tag}a1${newUsername("")}`, `${tag}a2${newUsername("")}`];
    const late = [`${tag}z1${newUsername("")}`, `${tag}z2${newUsername("")}`];
    const users = [];
    for (const [i, name] of [...early, ...late].entries()) users.push(await online(i % 2 ? n2 : n1, name));
    const [a1, a2, z1, z2] = users as [(typeof users)[0], (typeof users)[0], (typeof users)[0], (typeof users)[0]];
    // z2 talks with z1 (a partner past the first page), owns and sits in a quiet room.
    expect((await request(z2.socket, "open_conversation", { with: z1.username })).ok).toBe(true);
    const quiet = (await request(z2.socket, "create_room", { name: `${tag} quiet` })).room as RoomSummary;
    expect((await request(z2.socket, "join_room", { roomId: quiet.id })).ok).toBe(true);
    // Three busier rooms: the first page of rooms (the most members first).
    const busy: RoomSummary[] = [];
    for (const [i, size] of [3, 2, 2].entries()) {
      const room = (await request(a1.socket, "create_room", { name: `${tag} busy ${i}` })).room as RoomSummary;
      for (const member of [a1, a2, z1].slice(0, size)) expect((await request(member.socket, "join_room", { roomId: room.id })).ok).toBe(true);
      busy.push(room);
    }

    const viewer = await online(n1, `${tag}zz${newUsername("")}`);
    const again = await tab(n2, z2.username, z2.cookie); // z2's second tab: their own snapshot
    const first = viewer.snapshot;
    expect(first.pageSize).toBe(PAGE);
    expect(first.users).toHaveLength(PAGE);
    expect(first.rooms).toHaveLength(PAGE);
    // The snapshot holds the node's first page as of its last tick; on a quiet node (within
    // LOBBY_SENDS_PER_SEC) the snapshot's own tick comes at once, so it counts the viewer.
    expect(first.counts.users).toBeGreaterThanOrEqual(5);
    const view = viewer.lobby;
    await eventually(
      () =>
        JSON.stringify(view.onlineUsers().slice(0, 2)) === JSON.stringify(early) &&
        view.roomList()[0]?.id === busy[0]!.id &&
        view.roomList()[0]?.memberCount === 3 &&
        view.counts().users >= 5 &&
        view.counts().rooms >= 4,
      5000,
      "the first page and counts as of now",
    );
    expect(view.onlineUsers()).toHaveLength(PAGE);
    expect(first.partners).toEqual([]);
    expect(first.myRooms).toEqual([]);
    expect(again.snapshot.partners).toEqual([z1.username]);
    expect(again.snapshot.myRooms).toEqual([expect.objectContaining({ id: quiet.id, memberCount: 1, owner: z2.username })]);
  });
});

describe("lobby_users and lobby_rooms", () => {
  it("page every online user and every room by name prefix and cursor, across nodes", async () => {
    const tag = letters();
    const names = ["Ana", "ant", "Bea", "bob", "Cid"].map((name) => `${tag}${name}${newUsername("")}`);
    const users = [];
    for (const [i, name] of names.entries()) users.push(await online(i % 2 ? n2 : n1, name));
    const asker = users[0]!.socket;
    const firstA = await request(asker, "lobby_users", { prefix: `${tag}A`, limit: 1 });
    expect(firstA).toMatchObject({ ok: true, users: [names[0]], next: names[0]!.toLowerCase() });
    const secondA = await request(asker, "lobby_users", { prefix: `${tag}a`, after: firstA.next, limit: 1 });
    expect(secondA).toMatchObject({ ok: true, users: [names[1]], next: null });
    const all = await request(asker, "lobby_users", { prefix: tag });
    expect(all.users).toEqual(names);

    const rooms: RoomSummary[] = [];
    for (const name of ["Zeta", "alpha", "Mid"]) rooms.push((await request(users[1]!.socket, "create_room", { name: `${tag} ${name}`, password: name === "Mid" ? "secret-pass" : undefined })).room);
    const byName = await request(asker, "lobby_rooms", { prefix: `${tag} ` });
    expect(byName.rooms.map((room: RoomSummary) => room.name)).toEqual([`${tag} alpha`, `${tag} Mid`, `${tag} Zeta`]);
    expect(byName.rooms[1]).toMatchObject({ isPrivate: true, memberCount: 0 });
    const paged = await request(asker, "lobby_rooms", { prefix: `${tag} `, limit: 2 });
    const rest = await request(asker, "lobby_rooms", { prefix: `${tag} `, after: paged.next, limit: 2 });
    expect([...paged.rooms, ...rest.rooms].map((room: RoomSummary) => room.id)).toEqual(byName.rooms.map((room: RoomSummary) => room.id));
    expect(rest.next).toBeNull();
    // Nothing matches: an empty page, not an error.
    expect(await request(asker, "lobby_rooms", { prefix: `${tag} nothing` })).toMatchObject({ ok: true, rooms: [], next: null });
  });

  it("refuse what is not a page request with BAD_REQUEST", async () => {
    const { socket } = await online(n1, `${letters()}${newUsername("bad")}`);
    const bad = [{ limit: 0 }, { limit: 101 }, { prefix: "x".repeat(41) }, { after: "" }, { after: 5 }, { prefix: "a", extra: 1 }, "a"];
    for (const payload of bad) {
      for (const event of ["lobby_users", "lobby_rooms"]) {
        expect(await request(socket, event, payload), `${event} ${JSON.stringify(payload)}`).toMatchObject({ ok: false, error: { code: ErrorCode.BAD_REQUEST } });
      }
    }
  });
});

describe("lobby changes by interest", () => {
  it("reach every lobby socket for the first page only; past it, only those who follow the user", async () => {
    const tag = letters();
    const watcher = await online(n1, `${tag}m-watch${newUsername("")}`);
    const follower = await online(n1, `${tag}m-follow${newUsername("")}`);
    // Fill the first page with early names, so that `z…` users are past it.
    for (const name of ["a1", "a2", "a3"]) await online(n2, `${tag}${name}${newUsername("")}`);
    await sleep(QUIET_MS);
    // An early name comes online on the other node: on the first page, so every lobby socket hears it.
    const early = await online(n2, `${tag}a0${newUsername("")}`);
    await eventually(() => watcher.lobby.onlineUsers().includes(early.username), 5000, "the early user shown");
    expect(watcher.lobby.onlineUsers()).toHaveLength(PAGE); // the page stays a page: the fourth name fell off
    // A late name: not sent to the lobby, but the counts move.
    await sleep(QUIET_MS);
    const usersBefore = watcher.lobby.counts().users;
    watcher.updates.length = 0;
    const lateName = `${tag}z${newUsername("")}`;
    const late = await online(n2, lateName);
    await eventually(() => watcher.lobby.counts().users === usersBefore + 1, 5000, "the count of users online moved");
    await sleep(QUIET_MS);
    expect(mentions(watcher.updates, lateName)).toBe(false);
    // The follower searches for them: it is sent their going offline; the watcher is not.
    const found = await request(follower.socket, "lobby_users", { prefix: `${tag}z` });
    expect(found.users).toEqual([lateName]);
    follower.updates.length = 0;
    late.socket.close();
    await waitFor(follower.socket, "lobby_update", (update: LobbyUpdate) => update.presence.some((change) => change.username === lateName && !change.online));
    await sleep(QUIET_MS);
    expect(mentions(watcher.updates, lateName)).toBe(false);
    // A new search drops what the previous one followed.
    expect((await request(follower.socket, "lobby_users", { prefix: `${tag}a` })).ok).toBe(true);
    follower.updates.length = 0;
    await tab(n2, lateName, late.cookie);
    await eventually(() => watcher.lobby.counts().users === usersBefore + 1, 5000, "the late user counted again");
    await sleep(QUIET_MS);
    expect(mentions(follower.updates, lateName)).toBe(false);
  });

  it("keep every lobby socket's first page whole when users and rooms leave it: who moves up is sent too", async () => {
    // A lobby of its own: the rooms other tests leave behind would move on and off its first page.
    const own = await startCluster(2, inject("redisUrl"), { LOBBY_PAGE_SIZE: String(PAGE) });
    try {
      await keepsFirstPageWhole(own.nodes as [TestNode, TestNode]);
    } finally {
      for (const socket of sockets.splice(0)) socket.close();
      await own.close();
    }
  });

  async function keepsFirstPageWhole([n1, n2]: [TestNode, TestNode]) {
    const tag = letters();
    const early = [];
    for (const name of ["a1", "a2", "a3", "b1", "b2"]) early.push(await online(name < "b" ? n1 : n2, `${tag}${name}${newUsername("")}`));
    const watcher = await online(n1, `${tag}z${newUsername("watch")}`);
    const names = early.map((user) => user.username);
    expect(watcher.lobby.onlineUsers()).toEqual(names.slice(0, PAGE));
    // Two on the page leave at once (one batch): both who move up are sent.
    early[1]!.socket.close();
    early[2]!.socket.close();
    await eventually(() => JSON.stringify(watcher.lobby.onlineUsers()) === JSON.stringify([names[0], names[3], names[4]]), 5000, "the page topped up");

    // Rooms: three busy ones fill the page, a fourth waits past it; one busy room empties.
    const rooms: RoomSummary[] = [];
    for (const [i, size] of [2, 2, 1, 1].entries()) {
      const room = (await request(early[0]!.socket, "create_room", { name: `${tag} room ${i}` })).room as RoomSummary;
      for (const member of [early[3]!, early[4]!].slice(0, size)) expect((await request(member.socket, "join_room", { roomId: room.id })).ok).toBe(true);
      rooms.push(room);
    }
    const onPage = () => watcher.lobby.roomList().map((room) => room.id);
    await eventually(() => onPage().length === PAGE && onPage()[0] !== undefined && [rooms[0]!.id, rooms[1]!.id].includes(onPage()[0]!), 5000, "the busy rooms on the page");
    const [pastPage] = rooms.slice(2).filter((room) => !onPage().includes(room.id));
    expect(pastPage).toBeDefined();
    for (const member of [early[3]!, early[4]!]) expect((await request(member.socket, "leave_room", { roomId: rooms[0]!.id })).ok).toBe(true);
    await eventually(() => onPage().includes(pastPage!.id), 5000, `the room that moved onto the page shown (${pastPage!.id} in ${JSON.stringify(rooms.map((room) => room.id))})`).catch((error: Error) => {
      throw new Error(`${error.message}: shown ${JSON.stringify(watcher.lobby.roomList().map((room) => [room.id, room.memberCount]))}; updates ${JSON.stringify(watcher.updates.slice(-6))}`);
    });
    expect(onPage()).toHaveLength(PAGE);
  }

  it("reach a socket for its conversation partners wherever their names sort", async () => {
    const tag = letters();
    for (const name of ["a1", "a2", "a3"]) await online(n2, `${tag}${name}${newUsername("")}`);
    const partnerName = `${tag}z${newUsername("partner")}`;
    const partner = await online(n2, partnerName);
    const me = await online(n1, `${tag}y${newUsername("me")}`);
    expect((await request(me.socket, "open_conversation", { with: partnerName })).ok).toBe(true);
    // A new socket of mine: its snapshot has the partner, and it follows them.
    const other = await tab(n1, me.username, me.cookie);
    expect(other.snapshot.partners).toEqual([partnerName]);
    expect(other.snapshot.users).not.toContain(partnerName);
    partner.socket.close();
    await waitFor(other.socket, "lobby_update", (update: LobbyUpdate) => update.presence.some((change) => change.username === partnerName && !change.online));
    const returned = await connect(n2, partner.cookie);
    sockets.push(returned);
    await waitFor(other.socket, "lobby_update", (update: LobbyUpdate) => update.presence.some((change) => change.username === partnerName && change.online));
  });

  it("reach a socket for partners and rooms it gained since its snapshot: a conversation opened or received, a room joined", async () => {
    const tag = letters();
    for (const name of ["a1", "a2", "a3"]) await online(n2, `${tag}${name}${newUsername("")}`);
    const offlineOf = (username: string) => (update: LobbyUpdate) => update.presence.some((change) => change.username === username && !change.online);
    // Opening a conversation: the opener's socket follows the other user.
    const opener = await online(n1, `${tag}y${newUsername("opener")}`);
    const opened = await online(n2, `${tag}z${newUsername("opened")}`);
    expect((await request(opener.socket, "open_conversation", { with: opened.username })).ok).toBe(true);
    opened.socket.close();
    await waitFor(opener.socket, "lobby_update", offlineOf(opened.username));
    // A first whisper received: every socket of the receiver, on any node, follows the sender.
    const sender = await online(n2, `${tag}z${newUsername("sender")}`);
    const receiver = await online(n1, `${tag}y${newUsername("receiver")}`);
    const receiverTab = await tab(n2, receiver.username, receiver.cookie);
    const conversation = await request(sender.socket, "open_conversation", { with: receiver.username });
    const whisper = encryptText("hi", conversation.conversation.id, conversation.key);
    expect((await request(sender.socket, "private_message", { to: receiver.username, msg: whisper })).ok).toBe(true);
    await waitFor(receiverTab.socket, "private_message");
    sender.socket.close();
    await Promise.all([receiver, receiverTab].map((socketOf) => waitFor(socketOf.socket, "lobby_update", offlineOf(sender.username))));

    // A room past the first page, joined: the joining socket follows its lobby entry.
    const owner = await online(n1, `${tag}b${newUsername("owner")}`);
    const quiet = (await request(owner.socket, "create_room", { name: `${tag} zz quiet` })).room as RoomSummary;
    const member = await online(n2, `${tag}c${newUsername("member")}`);
    expect((await request(member.socket, "join_room", { roomId: quiet.id })).ok).toBe(true);
    expect((await request(member.socket, "leave_room", { roomId: quiet.id })).ok).toBe(true);
    const joiner = await online(n1, `${tag}d${newUsername("joiner")}`);
    expect((await request(joiner.socket, "join_room", { roomId: quiet.id })).ok).toBe(true);
    // The joiner's other tab: the room is among its snapshot's rooms, and followed.
    const otherTab = await tab(n2, joiner.username, joiner.cookie);
    expect(otherTab.snapshot.myRooms.map((room) => room.id)).toEqual([quiet.id]);
    expect((await request(member.socket, "join_room", { roomId: quiet.id })).ok).toBe(true);
    await waitFor(otherTab.socket, "lobby_update", (update: LobbyUpdate) => update.rooms.some((change) => "room" in change && change.room.id === quiet.id && change.room.memberCount === 2));
  });

  it("send member counts of the first page's rooms to every lobby socket, of other rooms to their followers", async () => {
    const tag = letters();
    const owner = await online(n1, `${tag}owner${newUsername("")}`);
    const watcher = await online(n2, `${tag}watch${newUsername("")}`);
    const follower = await online(n2, `${tag}follow${newUsername("")}`);
    const members = [];
    for (const name of ["m1", "m2", "m3"]) members.push(await online(n1, `${tag}${name}${newUsername("")}`));
    // Three rooms with members fill the first page of rooms; `quiet` stays empty, past it.
    const busy: RoomSummary[] = [];
    for (let i = 0; i < PAGE; i++) {
      const room = (await request(owner.socket, "create_room", { name: `${tag} busy ${i}` })).room as RoomSummary;
      for (const member of members.slice(0, 2)) expect((await request(member.socket, "join_room", { roomId: room.id })).ok).toBe(true);
      busy.push(room);
    }
    const quiet = (await request(owner.socket, "create_room", { name: `${tag} quiet` })).room as RoomSummary;
    await eventually(() => watcher.lobby.room(busy[0]!.id)?.memberCount === 2, 5000, "the busy room's count");
    await sleep(QUIET_MS);
    watcher.updates.length = 0;
    // The follower shows the quiet room (a search); a member joins it: only the follower hears.
    const found = await request(follower.socket, "lobby_rooms", { prefix: `${tag} quiet` });
    expect(found.rooms.map((room: RoomSummary) => room.id)).toEqual([quiet.id]);
    expect((await request(members[2]!.socket, "join_room", { roomId: quiet.id })).ok).toBe(true);
    await waitFor(follower.socket, "lobby_update", (update: LobbyUpdate) => update.rooms.some((change) => "room" in change && change.room.id === quiet.id && change.room.memberCount === 1));
    await sleep(QUIET_MS);
    expect(mentionsRoom(watcher.updates, quiet.id)).toBe(false);
    // A first-page room's count reaches everyone.
    expect((await request(members[2]!.socket, "join_room", { roomId: busy[1]!.id })).ok).toBe(true);
    await eventually(() => watcher.lobby.room(busy[1]!.id)?.memberCount === 3, 5000, "the first-page room's new count");
    // Deleting the followed room reaches the follower.
    expect((await request(owner.socket, "delete_room", { roomId: quiet.id })).ok).toBe(true);
    await waitFor(follower.socket, "lobby_update", (update: LobbyUpdate) => update.rooms.some((change) => "removed" in change && change.removed === quiet.id));
  });
});
