/**
 * The presence grace period: a user whose last socket closes and who comes back within
 * PRESENCE_GRACE_MS never appears to leave (no offline, no presence notice, no key rotation); one
 * who stays away is announced offline once it runs out, to the lobby and to their rooms, and stays a
 * member (leaving is explicit): back later, they rejoin without the password and get the same key.
 */
import { afterAll, beforeAll, describe, expect, it, inject } from "vitest";
import { LobbyState, type LobbyUpdate } from "@sala/protocol";
import { connect, newUsername, record, registerAndLogin, request, sleep, startCluster, waitFor, type TestCluster, type TestNode, firstLobby } from "./support/cluster.js";

let cluster: TestCluster;
let n1: TestNode, n2: TestNode;
beforeAll(async () => {
  cluster = await startCluster(2, inject("redisUrl"), { PRESENCE_GRACE_MS: "1500" });
  [n1, n2] = cluster.nodes as [TestNode, TestNode];
});
afterAll(() => cluster.close());

describe("presence grace period", () => {
  it("hides a reconnect within the grace period and announces a real departure after it", async () => {
    const ana = newUsername("ana");
    const bia = newUsername("bia");
    const anaSocket = await connect(n1, await registerAndLogin(n1, ana));
    const biaCookie = await registerAndLogin(n2, bia);
    let biaSocket = await connect(n2, biaCookie);
    const lobby = new LobbyState();
    anaSocket.on("lobby_update", (update) => lobby.applyUpdate(update));
    lobby.applySnapshot(await firstLobby(anaSocket));
    const { room } = await request(anaSocket, "create_room", { name: newUsername("room"), password: "grace-pass" });
    const { key } = await request(anaSocket, "join_room", { roomId: room.id, password: "grace-pass" });
    expect((await request(biaSocket, "join_room", { roomId: room.id, password: "grace-pass" })).ok).toBe(true);
    await waitFor(anaSocket, "lobby_update", () => lobby.onlineUsers().includes(bia));
    const notices = record(anaSocket, "member_left");
    const presence = record(anaSocket, "member_presence");
    const keys = record(anaSocket, "room_key");
    const updates = record<LobbyUpdate>(anaSocket, "lobby_update");

    // A reload: the socket closes and a new one opens on the other node within the grace period.
    biaSocket.close();
    await sleep(300);
    biaSocket = await connect(n1, biaCookie);
    const rejoined = await request(biaSocket, "join_room", { roomId: room.id }); // no password: still a member
    expect(rejoined).toMatchObject({ ok: true, key });
    await sleep(2500); // past the grace period and a few ticks
    expect(notices).toEqual([]);
    // The return may say "online" again (as the lobby's online change does); never "offline".
    expect(presence.filter((event) => !event.online)).toEqual([]);
    expect(keys).toEqual([]);
    expect(lobby.onlineUsers()).toContain(bia);
    // Not even for a tick of the lobby's first page (LOBBY_TICK_MS: 50 ms here): bia stayed listed.
    expect(updates.flatMap((update) => update.presence).filter((change) => change.username === bia && !change.online)).toEqual([]);

    // A real departure: offline, still a member.
    const wentOffline = waitFor(anaSocket, "member_presence", (event: { online: boolean }) => !event.online, 5000);
    const offline = waitFor(anaSocket, "lobby_update", () => !lobby.onlineUsers().includes(bia), 5000);
    const closedAt = Date.now();
    biaSocket.close();
    expect(await wentOffline).toEqual({ roomId: room.id, username: bia, online: false });
    expect(Date.now() - closedAt).toBeGreaterThanOrEqual(1500);
    await offline;
    await sleep(300);
    expect(notices).toEqual([]);
    expect(keys).toEqual([]); // no rotation: bia is still a member
    const anaView = await request(anaSocket, "join_room", { roomId: room.id });
    expect(anaView.members).toContain(bia);
    expect(anaView.online).not.toContain(bia);

    // Back the next day: online to the room, in again without the password, the same key.
    const cameBack = waitFor(anaSocket, "member_presence", (event: { online: boolean }) => event.online, 5000);
    biaSocket = await connect(n2, biaCookie);
    expect(await cameBack).toEqual({ roomId: room.id, username: bia, online: true });
    expect(await request(biaSocket, "my_rooms", {})).toMatchObject({ ok: true, rooms: [expect.objectContaining({ id: room.id, memberCount: 2 })] });
    expect(await request(biaSocket, "join_room", { roomId: room.id })).toMatchObject({ ok: true, key, online: expect.arrayContaining([ana, bia]) });
    biaSocket.close();
    anaSocket.close();
  }, 20_000);
});
