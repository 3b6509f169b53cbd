/**
 * REDIS_WAIT_REPLICAS covers edits and deletes as it covers messages: a change is acknowledged
 * (and shown to the room) only once a replica holds it, so a failover cannot undo an edit or bring
 * a deleted message back after its author was told it was done. A real primary with a real
 * replica; then the replica stops, and the same changes are refused UNAVAILABLE (the client retries).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Redis } from "ioredis";
import { encryptText } from "@sala/protocol/envelope";
import { startRedisServer, type RedisServer } from "./support/redis-server.js";
import { connect, eventually, newUsername, registerAndLogin, request, startCluster, type ClientSocket, type TestCluster } from "./support/cluster.js";

let primary: RedisServer;
let replica: RedisServer;
let cluster: TestCluster;
const sockets: ClientSocket[] = [];
const replicaDir = mkdtempSync(join(tmpdir(), "sala-replica-"));

beforeAll(async () => {
  primary = await startRedisServer();
  // A replica loads the primary's snapshot through a file (dump.rdb): in a temp dir, not the repository.
  replica = await startRedisServer(["--replicaof", "127.0.0.1", String(primary.port), "--dir", replicaDir]);
  const probe = new Redis(primary.url);
  await eventually(async () => /slave0:.*state=online/.test(await probe.info("replication")), 15_000, "the replica to be in sync");
  probe.disconnect();
  cluster = await startCluster(1, primary.url, { REDIS_WAIT_REPLICAS: "1", REDIS_WAIT_TIMEOUT_MS: "300" });
}, 30_000);
afterAll(async () => {
  for (const socket of sockets) socket.close();
  await cluster?.close();
  await replica?.stop();
  await primary?.stop();
  rmSync(replicaDir, { recursive: true, force: true });
});

describe("REDIS_WAIT_REPLICAS=1", () => {
  it("acknowledges edits and deletes once the replica holds them, and refuses them UNAVAILABLE when it cannot", async () => {
    const node = cluster.nodes[0]!;
    const ana = await connect(node, await registerAndLogin(node, newUsername("ana")));
    sockets.push(ana);
    const { room } = await request(ana, "create_room", { name: newUsername("room") });
    const { key } = await request(ana, "join_room", { roomId: room.id });
    const say = (text: string) => request(ana, "text", { roomId: room.id, msg: encryptText(text, room.id, key) });
    const first = await say("first");
    const second = await say("second");
    expect([first, second]).toMatchObject([{ ok: true }, { ok: true }]);

    expect(await request(ana, "edit_message", { roomId: room.id, seq: first.seq, msg: encryptText("first, edited", room.id, key) })).toMatchObject({ ok: true });
    expect(await request(ana, "delete_message", { roomId: room.id, seq: second.seq })).toMatchObject({ ok: true });

    await replica.stop();
    const refused = [
      await request(ana, "edit_message", { roomId: room.id, seq: first.seq, msg: encryptText("again", room.id, key) }),
      await request(ana, "delete_message", { roomId: room.id, seq: first.seq }),
      await say("third"), // messages, as before
    ];
    for (const answer of refused) expect(answer.error?.code).toBe("UNAVAILABLE");
  }, 30_000);
});
