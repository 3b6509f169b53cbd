import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inject } from "vitest";
import { LobbyState } from "@sala/protocol";
import { connect, firstLobby, newUsername, post, registerAndLogin, startCluster, type TestCluster } from "./support/cluster.js";

let cluster: TestCluster;
beforeAll(async () => {
  cluster = await startCluster(3, inject("redisUrl"));
});
afterAll(() => cluster.close());

describe("a session made on one node", () => {
  it("works on the others, over HTTP and for the socket handshake", async () => {
    const [n1, n2, n3] = cluster.nodes as [typeof cluster.nodes[0], typeof cluster.nodes[0], typeof cluster.nodes[0]];
    const username = newUsername("ana");
    const cookie = await registerAndLogin(n1, username);
    const session = await fetch(`${n2.url}/session`, { headers: { cookie } });
    expect(await session.json()).toEqual({ ok: true, username });
    const socket = await connect(n3, cookie);
    const lobby = new LobbyState();
    lobby.applySnapshot(await firstLobby(socket));
    expect(lobby.onlineUsers()).toContain(username);
    socket.close();
    expect((await post(`${n2.url}/login`, { username, password: "wrong password" })).status).toBe(401);
  });
});
