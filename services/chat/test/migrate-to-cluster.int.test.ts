/**
 * Issue 18, item 6: `npm run admin -- migrate-to-cluster` moves a single Redis's data set into a
 * Redis Cluster. A data set is made the way users make one (real nodes on a real redis-server of
 * this file's own: accounts, a public and a private room, messages, a kick, a conversation), put
 * back into the layout before Redis Cluster support (the `{global}` keys renamed to their old
 * names), refused by a node as it is, then moved with the real CLI (a child process) into the
 * run's 3+3 Redis Cluster; nodes on the cluster then serve it to real socket.io clients as before.
 * Needs the built CLI (`npx tsc -b services/chat`).
 */
import { Cluster, Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ErrorCode, type RoomKey, type RoomMessage, type RoomSummary, type Whisper } from "@sala/protocol";
import { encryptText } from "@sala/protocol/envelope";
import { RedisKeys } from "../src/stores/redis/keys.js";
import { clusterStartNodes, keysUnder } from "./support/redis-client.js";
import { startRedisServer, type RedisServer } from "./support/redis-server.js";
import {
  connect,
  firstLobby,
  newUsername,
  PASSWORD,
  post,
  registerAndLogin,
  request,
  startCluster,
  startNode,
  type ClientSocket,
  type TestNode,
  decryptAll,
} from "./support/cluster.js";
import { runAdmin } from "./support/admin-cli.js";


const admin = runAdmin;

const read = decryptAll;

const allKeys = keysUnder;

/** What the old data set held, to find again on the cluster. */
interface Before {
  prefix: string;
  ana: string;
  bia: string;
  caio: string;
  dan: string;
  anaCookie: string;
  pub: RoomSummary;
  priv: RoomSummary;
  pubKey: RoomKey;
  privKey: RoomKey;
  conversationId: string;
}

/** Accounts, rooms, messages, a kick and a conversation, made through two real nodes. */
async function populate(redisUrl: string): Promise<Before> {
  const cluster = await startCluster(2, redisUrl);
  const [n1, n2] = cluster.nodes as [TestNode, TestNode];
  const sockets: ClientSocket[] = [];
  const user = async (node: TestNode, label: string) => {
    const name = newUsername(label);
    const cookie = await registerAndLogin(node, name);
    const socket = await connect(node, cookie);
    sockets.push(socket);
    return { name, cookie, socket };
  };
  try {
    const [ana, bia, caio, dan] = [await user(n1, "ana"), await user(n2, "bia"), await user(n1, "caio"), await user(n2, "dan")];
    const pub = (await request(ana.socket, "create_room", { name: newUsername("pub") })).room as RoomSummary;
    const priv = (await request(ana.socket, "create_room", { name: newUsername("priv"), password: "migrate-pass" })).room as RoomSummary;
    const pubKey = (await request(ana.socket, "join_room", { roomId: pub.id })).key as RoomKey;
    const privKey = (await request(ana.socket, "join_room", { roomId: priv.id, password: "migrate-pass" })).key as RoomKey;
    for (const who of [bia, caio]) expect((await request(who.socket, "join_room", { roomId: pub.id })).ok).toBe(true);
    expect((await request(dan.socket, "join_room", { roomId: priv.id, password: "migrate-pass" })).key).toEqual(privKey);
    for (const text of ["pub 1", "pub 2", "pub 3"]) expect((await request(ana.socket, "text", { roomId: pub.id, msg: encryptText(text, pub.id, pubKey) })).ok).toBe(true);
    for (const text of ["priv 1", "priv 2"]) expect((await request(dan.socket, "text", { roomId: priv.id, msg: encryptText(text, priv.id, privKey) })).ok).toBe(true);
    expect((await request(ana.socket, "kick", { roomId: pub.id, username: caio.name })).ok).toBe(true);
    const opened = await request(ana.socket, "open_conversation", { with: bia.name });
    for (const text of ["psst 1", "psst 2"]) {
      const sent = await request(ana.socket, "private_message", { to: bia.name, msg: encryptText(text, opened.conversation.id, opened.key) });
      expect(sent.ok, JSON.stringify(sent)).toBe(true);
    }
    return {
      prefix: cluster.prefix,
      ana: ana.name,
      bia: bia.name,
      caio: caio.name,
      dan: dan.name,
      anaCookie: ana.cookie,
      pub,
      priv,
      pubKey,
      privKey,
      conversationId: opened.conversation.id,
    };
  } finally {
    for (const socket of sockets) socket.close();
    await cluster.close();
  }
}

/** Puts the data set back into the layout before Redis Cluster support: `<prefix>:{global}:x` → `<prefix>:x`. */
async function toOldLayout(redis: Redis, prefix: string): Promise<string[]> {
  const renamed: string[] = [];
  for (const key of await allKeys(redis, `${prefix}:{global}`)) {
    const suffix = key.slice(`${prefix}:{global}:`.length);
    if (suffix === "repair:lease") await redis.del(key); // newer than the old layout
    else {
      await redis.rename(key, `${prefix}:${suffix}`);
      renamed.push(suffix);
    }
  }
  return renamed;
}

describe("npm run admin -- migrate-to-cluster", () => {
  let source: RedisServer;
  let sourceRedis: Redis;
  let target: Cluster;
  let before: Before;
  let env: Record<string, string>;
  const nodes: TestNode[] = [];
  const sockets: ClientSocket[] = [];

  beforeAll(async () => {
    source = await startRedisServer();
    sourceRedis = new Redis(source.url);
    target = new Cluster(clusterStartNodes(), { scaleReads: "master" });
    before = await populate(source.url);
    env = { REDIS_CLUSTER_NODES: inject("redisClusterNodes"), REDIS_PREFIX: before.prefix };
  }, 90_000);
  afterAll(async () => {
    for (const socket of sockets) socket.close();
    await Promise.allSettled(nodes.map(({ node }) => node.close()));
    if (target && before) for (const key of await allKeys(target, before.prefix)) await target.del(key);
    target?.disconnect();
    sourceRedis?.disconnect();
    await source?.stop();
  });

  it("moves an old single-Redis data set into the cluster, where nodes serve it as before", { timeout: 120_000 }, async () => {
    const { prefix } = before;
    const keys = new RedisKeys(prefix);
    const renamed = await toOldLayout(sourceRedis, prefix);
    expect(renamed).toEqual(expect.arrayContaining(["roomnames", "rooms", "usernames:skeletons", "lobby:rev"]));

    // A node of this version refuses the old layout, and says what to run.
    await expect(startNode(`${prefix}-refused`, source.url, prefix)).rejects.toThrow(/layout before Redis Cluster support.*migrate-to-cluster --from/);

    const sourceKeys = await allKeys(sourceRedis, prefix);
    const dry = await admin(["migrate-to-cluster", "--from", source.url, "--dry-run"], env);
    expect(dry, dry.stderr).toMatchObject({ code: 0 });
    expect(dry.stdout).toContain("dry run: nothing copied");
    expect(await allKeys(target, prefix)).toEqual([]);

    const started = Date.now();
    const moved = await admin(["migrate-to-cluster", "--from", source.url], env);
    expect(moved, moved.stderr).toMatchObject({ code: 0 });
    console.info(`migrate-to-cluster: ${sourceKeys.length} source keys in ${Date.now() - started} ms (CLI start included)\n${moved.stdout}`);
    expect(moved.stdout).toMatch(/copied \d+ key\(s\)/);
    expect(moved.stdout).toMatch(/verified on the target: global=\d+ .*room=\d+ conversation=\d+ user=\d+ session=\d+/);
    // The source is left as it was; the target has the new names only, and no live state.
    expect(await allKeys(sourceRedis, prefix)).toEqual(sourceKeys);
    const onTarget = await allKeys(target, prefix);
    expect(onTarget).toContain(keys.roomNames);
    expect(onTarget).toContain(keys.roomIndex);
    expect(onTarget.filter((key) => key.includes(":{global}:metrics:"))).toEqual([]);
    expect(onTarget.filter((key) => keys.legacyGlobalKeys.includes(key))).toEqual([]);
    for (const key of sourceKeys.filter((k) => k.includes("{room:") || k.includes("{dm:") || k.includes(":user:"))) expect(onTarget, key).toContain(key);
    // Audited on the target.
    const audit = (await target.lrange(keys.audit, 0, 0)).map((entry) => JSON.parse(entry));
    expect(audit[0]).toMatchObject({ action: "migrate-to-cluster", target: source.url });

    // A second run finds Sala data there and changes nothing.
    const again = await admin(["migrate-to-cluster", "--from", source.url], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already holds Sala data under prefix/);

    // Nodes on the cluster serve the moved data.
    for (const i of [1, 2]) nodes.push(await startNode(`${prefix}-c${i}`, null, prefix, { REDIS_CLUSTER_NODES: inject("redisClusterNodes") }));
    const [c1, c2] = nodes as [TestNode, TestNode];
    const login = async (node: TestNode, name: string) => {
      const answer = await post(`${node.url}/login`, { username: name, password: PASSWORD });
      expect(answer.status, JSON.stringify(answer.json)).toBe(200);
      const socket = await connect(node, answer.cookie);
      sockets.push(socket);
      return socket;
    };
    const ana = await login(c1, before.ana);
    const dan = await login(c2, before.dan);
    const caio = await login(c1, before.caio);
    // A session made on the single Redis still opens a socket (sessions were copied with their TTL).
    const oldSession = await connect(c2, before.anaCookie);
    sockets.push(oldSession);

    // Memberships moved with the rooms: going offline (the nodes were stopped) is not leaving.
    // Rooms are listed (the private one locked) with their members: ana and bia (caio was kicked), ana and dan.
    const lobby = await firstLobby(dan);
    expect(lobby.rooms.find((room) => room.id === before.pub.id)).toMatchObject({ name: before.pub.name, isPrivate: false, memberCount: 2, owner: before.ana });
    expect(lobby.rooms.find((room) => room.id === before.priv.id)).toMatchObject({ name: before.priv.name, isPrivate: true, memberCount: 2 });

    // The private room keeps its password for others; dan, a member, is let in without it and
    // gets the same key (nobody left: no rotation) with the history.
    expect((await request(caio, "join_room", { roomId: before.priv.id })).error.code).toBe(ErrorCode.WRONG_PASSWORD);
    const joined = await request(dan, "join_room", { roomId: before.priv.id });
    expect(joined.ok, JSON.stringify(joined)).toBe(true);
    expect(joined.key).toEqual(before.privKey);
    expect(joined.history.map((m: RoomMessage) => m.seq)).toEqual([1, 2]);
    expect(read(joined.history, before.priv.id, joined.keys)).toEqual(["priv 1", "priv 2"]);
    expect((await request(ana, "join_room", { roomId: before.priv.id })).key).toEqual(joined.key);
    const pubJoin = await request(ana, "join_room", { roomId: before.pub.id });
    expect(pubJoin.ok).toBe(true);
    const page = await request(ana, "history", { roomId: before.pub.id });
    expect(page.messages.map((m: RoomMessage) => m.seq)).toEqual([1, 2, 3]);
    expect(read(page.messages, before.pub.id, page.keys)).toEqual(["pub 1", "pub 2", "pub 3"]);

    // The conversation and its history.
    const { conversations } = await request(ana, "conversations", {});
    expect(conversations).toEqual([expect.objectContaining({ id: before.conversationId, with: before.bia, lastSeq: 2 })]);
    const whispers = await request(ana, "conversation_history", { with: before.bia });
    expect(whispers.messages.map((m: Whisper) => m.seq)).toEqual([1, 2]);
    expect(read(whispers.messages, before.conversationId, whispers.keys)).toEqual(["psst 1", "psst 2"]);

    // The kick still holds, and a new message takes the next seq.
    expect((await request(caio, "join_room", { roomId: before.pub.id })).error.code).toBe(ErrorCode.BANNED);
    expect(pubJoin.keys).toContainEqual(before.pubKey);
    const sent = await request(ana, "text", { roomId: before.pub.id, msg: encryptText("pub 4", before.pub.id, pubJoin.key) });
    expect(sent, JSON.stringify(sent)).toMatchObject({ ok: true, seq: 4 });
  });

  it("upgrades one Redis in place when REDIS_URL is the --from server: renames, then nodes start on it", { timeout: 90_000 }, async () => {
    const old = await populate(source.url);
    const keys = new RedisKeys(old.prefix);
    await toOldLayout(sourceRedis, old.prefix);
    const local = { REDIS_URL: source.url, REDIS_PREFIX: old.prefix };
    const upgraded = await admin(["migrate-to-cluster", "--from", source.url], local);
    expect(upgraded, upgraded.stderr).toMatchObject({ code: 0 });
    expect(upgraded.stdout).toContain("in place on the same Redis");
    const left = await allKeys(sourceRedis, old.prefix);
    expect(left.filter((key) => !key.startsWith(`${old.prefix}:{`) && !/:(user|sess|rl):/.test(key))).toEqual([]);
    expect(left).toContain(keys.roomIndex);

    const node = await startNode(`${old.prefix}-local`, source.url, old.prefix);
    nodes.push(node);
    const login = await post(`${node.url}/login`, { username: old.dan, password: PASSWORD });
    expect(login.status).toBe(200);
    const dan = await connect(node, login.cookie);
    sockets.push(dan);
    const joined = await request(dan, "join_room", { roomId: old.priv.id, password: "migrate-pass" });
    expect(read(joined.history, old.priv.id, joined.keys)).toEqual(["priv 1", "priv 2"]);
    expect((await request(dan, "join_room", { roomId: old.pub.id })).history.map((m: RoomMessage) => m.seq)).toEqual([1, 2, 3]);
  });

  it("refuses bad usage and an unreachable source with a clear message", async () => {
    const usage = await admin(["migrate-to-cluster"], env);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("--from needs the redis://");
    const noTarget = await admin(["migrate-to-cluster", "--from", source.url], { REDIS_PREFIX: "x" });
    expect(noTarget.code).toBe(2);
    expect(noTarget.stderr).toContain("set REDIS_CLUSTER_NODES (or REDIS_URL)");
    const gone = await admin(["migrate-to-cluster", "--from", "redis://127.0.0.1:1"], env);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/cannot reach the source Redis at redis:\/\/127\.0\.0\.1:1: .*ECONNREFUSED/);
    const empty = await admin(["migrate-to-cluster", "--from", source.url], { ...env, REDIS_PREFIX: "nothing-here" });
    expect(empty.code).toBe(1);
    expect(empty.stderr).toContain("no Sala data under this prefix");
  });
});
