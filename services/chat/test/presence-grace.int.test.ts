/**
 * The presence grace period: a user whose last socket closes and who comes back within
 * PRESENCE_GRACE_MS never appears to leave (no offline, no leave notice, no key rotation, still a
 * member); one who stays away is announced offline and leaves their rooms once it runs out.
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
    expect(keys).toEqual([]);
    expect(lobby.onlineUsers()).toContain(bia);
    // Not even for a tick of the lobby's first page (LOBBY_TICK_MS: 50 ms here): bia stayed listed.
    expect(updates.flatMap((update) => update.presence).filter((change) => change.username === bia && !change.online)).toEqual([]);

    // A real departure.
    const left = waitFor(anaSocket, "member_left", () => true, 5000);
    const offline = waitFor(anaSocket, "lobby_update", () => !lobby.onlineUsers().includes(bia), 5000);
    const rotated = waitFor(anaSocket, "room_key", () => true, 5000);
    const closedAt = Date.now();
    biaSocket.close();
    expect(await left).toEqual({ roomId: room.id, username: bia, reason: "offline" });
    expect(Date.now() - closedAt).toBeGreaterThanOrEqual(1500);
    await offline;
    expect((await rotated).key.id).toBe(key.id + 1);
    anaSocket.close();
  }, 20_000);
});
