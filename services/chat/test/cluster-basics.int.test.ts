import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inject } from "vitest";
import { LobbyState } from "@sala/protocol";
import { connect, firstLobby, newUsername, post, registerAndLogin, startCluster, type ClientSocket, type TestCluster } from "./support/cluster.js";

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

describe("a burst of handshakes", () => {
  it("gives every socket exactly one lobby snapshot, each showing its own user online", async () => {
    const node = cluster.nodes[0]!;
    const names = Array.from({ length: 24 }, () => newUsername("burst"));
    const cookies = await Promise.all(names.map((name) => registerAndLogin(node, name)));
    // Two tabs per user, all at once: the node shares lobby reads among them and sends each
    // read's snapshot as one broadcast.
    const received = new Map<ClientSocket, number>();
    const count = (socket: ClientSocket) => socket.on("lobby", () => received.set(socket, (received.get(socket) ?? 0) + 1));
    const sockets = await Promise.all([...cookies, ...cookies].map((cookie) => connect(node, cookie, undefined, count)));
    try {
      const snapshots = await Promise.all(sockets.map((socket) => firstLobby(socket)));
      snapshots.forEach((snapshot, i) => expect(snapshot.users).toContain(names[i % names.length]));
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(sockets.map((socket) => received.get(socket))).toEqual(sockets.map(() => 1));
    } finally {
      for (const socket of sockets) socket.close();
    }
  });
});
