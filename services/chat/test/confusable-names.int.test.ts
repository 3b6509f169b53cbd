/**
 * Issue 17, item 9 (d), over real sockets on a 2-node cluster and the real redis-server: a room
 * name that looks like an existing room's (Cyrillic or fullwidth look-alikes; room names allow
 * any script) is refused with NAME_CONFUSABLE on any node, an exact duplicate stays ROOM_EXISTS,
 * and deleting the room frees its look. (Usernames: http-accounts.int.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ErrorCode } from "@sala/protocol";
import { connect, newUsername, registerAndLogin, request, startCluster, type ClientSocket, type TestCluster, type TestNode } from "./support/cluster.js";

let cluster: TestCluster;
let ana: ClientSocket;
let bia: ClientSocket;

beforeAll(async () => {
  cluster = await startCluster(2, inject("redisUrl"));
  const [n1, n2] = cluster.nodes as [TestNode, TestNode];
  ana = await connect(n1, await registerAndLogin(n1, newUsername("ana")));
  bia = await connect(n2, await registerAndLogin(n2, newUsername("bia")));
});
afterAll(async () => {
  ana?.close();
  bia?.close();
  await cluster?.close();
});

describe("look-alike room names", () => {
  it("refuses Cyrillic and fullwidth look-alikes of an existing room on every node; frees the look when it is deleted", async () => {
    const created = await request(ana, "create_room", { name: "Lobby Café" });
    expect(created).toMatchObject({ ok: true, room: { name: "Lobby Café" } });

    for (const [socket, name] of [
      [bia, "Lоbby Café"], // Cyrillic о
      [ana, "ＬＯＢＢＹ ＣＡＦÉ"], // fullwidth
      [bia, "L0bby Cafe\u0301"], // zero for O, decomposed é
    ] as const) {
      const refused = await request(socket, "create_room", { name });
      expect(refused, name).toEqual({ ok: false, error: { code: ErrorCode.NAME_CONFUSABLE, message: expect.stringContaining("Lobby Café") } });
    }
    expect((await request(bia, "create_room", { name: "LOBBY CAFÉ" })).error.code).toBe(ErrorCode.ROOM_EXISTS);
    expect((await request(bia, "create_room", { name: "Lobby Cafés" })).ok).toBe(true);

    expect((await request(ana, "delete_room", { roomId: created.room.id })).ok).toBe(true);
    const successor = await request(bia, "create_room", { name: "Lоbby Café" });
    expect(successor).toMatchObject({ ok: true, room: { name: "Lоbby Café" } });
    expect((await request(ana, "create_room", { name: "Lobby Café" })).error.code).toBe(ErrorCode.NAME_CONFUSABLE);
  });
});
