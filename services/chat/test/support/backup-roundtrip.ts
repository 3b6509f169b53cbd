/**
 * The round trip of `npm run admin -- backup FILE` / `restore FILE` (issue 20, item 4), shared by
 * backup-restore.int.test.ts (one Redis → a fresh redis-server) and its Redis Cluster twin (the
 * run's 3+3 cluster → another prefix on it). A data set is made the way users make one: real nodes,
 * real socket.io clients, accounts, a public and a private room, encrypted messages, a kick, a
 * conversation both ways. The backup is taken with the real CLI (a child process) while the nodes
 * serve and their users are online; damaged copies of the file are refused and leave the target
 * empty; the file is restored; nodes started on the target then serve the data to clients that log
 * in again. Needs the built CLI (`npx tsc -b services/chat`).
 */
import { chmod, mkdtemp, readFile, rm, stat, writeFile, readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import type { Cluster, Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorCode, type RoomKey, type RoomMessage, type RoomSummary, type Whisper } from "@sala/protocol";
import { encryptText } from "@sala/protocol/envelope";
import { RedisAuditStore } from "../../src/stores/redis/audit.js";
import { RedisKeys } from "../../src/stores/redis/keys.js";
import { runAdmin } from "./admin-cli.js";
import { keysUnder, uniquePrefix } from "./redis-client.js";
import {
  connect,
  expectNoSessionRefused,
  firstLobby,
  newUsername,
  PASSWORD,
  post,
  registerAndLogin,
  request,
  startCluster,
  startNode,
  type ClientSocket,
  type TestCluster,
  type TestNode,
  decryptAll,
} from "./cluster.js";

/** Where the backup is restored. */
export interface BackupTarget {
  /** The CLI's store variables (REDIS_URL or REDIS_CLUSTER_NODES), without REDIS_PREFIX. */
  store: Record<string, string>;
  /** What startNode takes as its Redis to run on this store. */
  nodeRedisUrl: string;
  prefix: string;
  client: Redis | Cluster;
  stop(): Promise<void>;
}

export interface RoundTripSetup {
  label: string;
  /** The source's store: what startCluster takes, and the CLI's variables for it. */
  sourceRedisUrl: string;
  sourceStore: Record<string, string>;
  sourceClient(): Redis | Cluster;
  /** Made after the source is populated (its prefix given). */
  makeTarget(sourcePrefix: string): Promise<BackupTarget>;
}

const ROOM_PASSWORD = "backup-pass-1";

const decrypt = decryptAll;

/** What a client sees of a message, and what must be the same after the restore. */
const essence = (messages: Array<RoomMessage | Whisper>) => messages.map(({ seq, from, msg }) => ({ seq, from, msg }));

/** The file's lines, parsed (the test reads the format it documents). */
function fileLines(gz: Buffer): Array<Record<string, any>> {
  return gunzipSync(gz)
    .toString("utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line));
}

interface Populated {
  ana: string;
  bia: string;
  caio: string;
  dan: string;
  extra: string[];
  anaCookie: string;
  pub: RoomSummary;
  priv: RoomSummary;
  conversationId: string;
  /** What clients saw before the backup. */
  pubHistory: RoomMessage[];
  privHistory: RoomMessage[];
  whispers: Whisper[];
  biaUnread: number;
  /** The rooms' keys hashes on the source, as Redis held them at the backup. */
  pubKeys: Record<string, string>;
  privKeys: Record<string, string>;
  schema: string | null;
}

export function describeBackupRoundTrip(setup: RoundTripSetup): void {
  describe(`npm run admin -- backup / restore (${setup.label})`, () => {
    let source: TestCluster;
    let sourceRedis: Redis | Cluster;
    let target: BackupTarget;
    let dir: string;
    let file: string;
    let before: Populated;
    const sockets: ClientSocket[] = [];
    const targetNodes: TestNode[] = [];
    const sourceEnv = () => ({ ...setup.sourceStore, REDIS_PREFIX: source.prefix });
    const targetEnv = () => ({ ...target.store, REDIS_PREFIX: target.prefix });
    const user = async (node: TestNode, label: string) => {
      const name = newUsername(label);
      const cookie = await registerAndLogin(node, name);
      const socket = await connect(node, cookie);
      sockets.push(socket);
      return { name, cookie, socket };
    };

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), "sala-backup-"));
      file = join(dir, "sala.backup.gz");
      sourceRedis = setup.sourceClient();
      source = await startCluster(2, setup.sourceRedisUrl);
      const [n1, n2] = source.nodes as [TestNode, TestNode];
      const [ana, bia, caio, dan] = [await user(n1, "ana"), await user(n2, "bia"), await user(n1, "caio"), await user(n2, "dan")];
      // More accounts, so that on a Redis Cluster the users' keys land on every primary.
      const extra: string[] = [];
      for (let i = 0; i < 12; i++) {
        const name = newUsername("acct");
        expect((await post(`${n1.url}/register`, { username: name, password: PASSWORD })).status).toBe(201);
        extra.push(name);
      }
      const pub = (await request(ana.socket, "create_room", { name: newUsername("pub") })).room as RoomSummary;
      const priv = (await request(ana.socket, "create_room", { name: newUsername("priv"), password: ROOM_PASSWORD })).room as RoomSummary;
      const pubKey = (await request(ana.socket, "join_room", { roomId: pub.id })).key as RoomKey;
      const privKey = (await request(ana.socket, "join_room", { roomId: priv.id, password: ROOM_PASSWORD })).key as RoomKey;
      for (const who of [bia, caio]) expect((await request(who.socket, "join_room", { roomId: pub.id })).ok).toBe(true);
      expect((await request(dan.socket, "join_room", { roomId: priv.id, password: ROOM_PASSWORD })).key).toEqual(privKey);
      for (const text of ["pub 1", "pub 2", "pub 3"]) expect((await request(ana.socket, "text", { roomId: pub.id, msg: encryptText(text, pub.id, pubKey) })).ok).toBe(true);
      for (const text of ["priv 1", "priv 2"]) expect((await request(dan.socket, "text", { roomId: priv.id, msg: encryptText(text, priv.id, privKey) })).ok).toBe(true);
      expect((await request(ana.socket, "kick", { roomId: pub.id, username: caio.name })).ok).toBe(true);
      const opened = await request(ana.socket, "open_conversation", { with: bia.name });
      const id = opened.conversation.id as string;
      for (const [socket, to, text] of [[ana.socket, bia.name, "psst 1"], [ana.socket, bia.name, "psst 2"], [bia.socket, ana.name, "psst back"]] as const) {
        const sent = await request(socket, "private_message", { to, msg: encryptText(text, id, opened.key) });
        expect(sent.ok, JSON.stringify(sent)).toBe(true);
      }
      // An entry in the operators' audit trail, to find again after the restore.
      const keys = new RedisKeys(source.prefix);
      await new RedisAuditStore(sourceRedis, keys).append({ ts: Date.now(), actor: "test", action: "test-entry", target: ana.name, outcome: "done" }, 1000);

      const pubPage = await request(ana.socket, "history", { roomId: pub.id });
      const privPage = await request(dan.socket, "history", { roomId: priv.id });
      const whisperPage = await request(ana.socket, "conversation_history", { with: bia.name });
      const biaSummary = (await request(bia.socket, "conversations", {})).conversations.find((c: { id: string }) => c.id === id);
      expect(decrypt(pubPage.messages, pub.id, pubPage.keys)).toEqual(["pub 1", "pub 2", "pub 3"]);
      expect(decrypt(whisperPage.messages, id, whisperPage.keys)).toEqual(["psst 1", "psst 2", "psst back"]);
      before = {
        ana: ana.name,
        bia: bia.name,
        caio: caio.name,
        dan: dan.name,
        extra,
        anaCookie: ana.cookie,
        pub,
        priv,
        conversationId: id,
        pubHistory: pubPage.messages,
        privHistory: privPage.messages,
        whispers: whisperPage.messages,
        biaUnread: biaSummary.unread,
        pubKeys: await sourceRedis.hgetall(keys.roomKeys(pub.id)),
        privKeys: await sourceRedis.hgetall(keys.roomKeys(priv.id)),
        schema: await sourceRedis.get(keys.schemaVersion),
      };
      target = await setup.makeTarget(source.prefix);
    }, 120_000);

    afterAll(async () => {
      for (const socket of sockets) socket.close();
      await Promise.allSettled(targetNodes.map(({ node }) => node.close()));
      await source?.close();
      if (sourceRedis && source) for (const key of await keysUnder(sourceRedis, source.prefix)) await sourceRedis.del(key);
      sourceRedis?.disconnect();
      await target?.stop();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it("backs up while the nodes serve, refuses damaged copies, restores into an empty store where nodes serve the data again", { timeout: 180_000 }, async () => {
      const keys = new RedisKeys(target.prefix);
      const sourceKeys = new RedisKeys(source.prefix);

      // The backup, while both source nodes run and the four users are online and in rooms.
      const backup = await runAdmin(["backup", file], sourceEnv());
      expect(backup, backup.stderr).toMatchObject({ code: 0 });
      console.info(`backup (${setup.label}):\n${backup.stdout}`);
      expect(backup.stdout).toMatch(/wrote .*sala\.backup\.gz: \d+ key\(s\) in \d+ ms: global=\d+ room=\d+ conversation=\d+ user=\d+/);
      expect(backup.stdout).toMatch(/left out: .*presence and node list \(\d+\).*sessions \(\d+\)/);
      expect(backup.stdout).toMatch(before.schema === null ? /unversioned data/ : new RegExp(`schema version ${before.schema}\\b`));
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      expect(await readdir(dir)).toEqual(["sala.backup.gz"]);
      const audit = JSON.parse((await sourceRedis.lrange(sourceKeys.audit, 0, 0))[0]!);
      expect(audit).toMatchObject({ action: "backup", target: file });

      // What the file holds: the documented header, data keys only, a trailer that sums them.
      const good = await readFile(file);
      const lines = fileLines(good);
      const [header, ...rest] = lines;
      const trailer = rest.pop()!;
      expect(header).toMatchObject({ format: "sala-backup", version: 1, prefix: source.prefix, schema: before.schema === null ? null : Number(before.schema) });
      expect(header!.source.kind).toBe(setup.sourceStore.REDIS_CLUSTER_NODES ? "redis-cluster" : "redis");
      expect(trailer).toMatchObject({ end: true, keys: rest.length });
      expect(backup.stdout).toContain(`content sha256 ${trailer.sha256}`);
      const names = rest.map((record) => record.k as string);
      expect(new Set(names).size).toBe(names.length);
      for (const expected of [
        `{room:${before.pub.id}}:meta`,
        `{room:${before.pub.id}}:keys`,
        `{room:${before.pub.id}}:history`,
        `{room:${before.pub.id}}:barred`,
        `{room:${before.pub.id}}:members`,
        `{room:${before.priv.id}}:meta`,
        `{${before.conversationId}}:history`,
        `{${before.conversationId}}:meta`,
        `user:${before.ana.toLowerCase()}`,
        `user:${before.extra[0]!.toLowerCase()}`,
        "{global}:audit",
        "{global}:roomnames",
        "{global}:rooms",
      ]) {
        expect(names, expected).toContain(expected);
      }
      if (before.schema !== null) expect(names).toContain("{global}:schema");
      expect(names.filter((k) => /^(sess:|rl:|\{sockets\}|\{global\}:(presence|nodes|node:|metrics|repair))/.test(k))).toEqual([]);

      // A message after the backup is not in it: the restore brings the data back as it was then.
      const late = await connect(source.nodes[0]!, before.anaCookie);
      sockets.push(late);
      const lateJoin = await request(late, "join_room", { roomId: before.pub.id });
      expect((await request(late, "text", { roomId: before.pub.id, msg: encryptText("after the backup", before.pub.id, lateJoin.key) })).seq).toBe(4);

      // Damaged copies are refused, whole, before anything is written.
      const damaged = async (name: string, bytes: Buffer, why: RegExp) => {
        const path = join(dir, name);
        await writeFile(path, bytes);
        await chmod(path, 0o600);
        const refused = await runAdmin(["restore", path], targetEnv());
        expect(refused.code, `${name}: ${refused.stdout}`).toBe(1);
        expect(refused.stderr).toMatch(why);
        expect(refused.stderr).toContain("nothing restored");
        expect(await keysUnder(target.client, target.prefix), name).toEqual([]);
      };
      const flipped = Buffer.from(good);
      flipped[Math.floor(flipped.length / 2)]! ^= 0x01;
      // Whichever check sees it first (gzip's CRC, a line that no longer parses, the sum), it is refused.
      await damaged("flipped.gz", flipped, /gzip|checksum|JSON|record|malformed|header|trailer/);
      await damaged("cut.gz", good.subarray(0, Math.floor(good.length / 2)), /not a complete gzip file \(unexpected end of file\)/);
      // Valid gzip and JSON, one byte of a DUMP changed: only the checksum tells.
      const text = gunzipSync(good).toString("utf8");
      const at = text.indexOf(`"d":"`, text.indexOf("\n")) + 5;
      const altered = text.slice(0, at) + (text[at] === "A" ? "B" : "A") + text.slice(at + 1);
      await damaged("altered.gz", gzipSync(altered), /checksum mismatch: .*the file was altered or damaged/);
      // Cut at a line end: the trailer is missing.
      await damaged("no-trailer.gz", gzipSync(text.slice(0, text.lastIndexOf("\n", text.length - 2) + 1)), /truncated: no trailer after \d+ record\(s\)/);
      await damaged("not-a-backup.gz", gzipSync('{"hello":"world"}\n'), /not a Sala backup/);

      const dry = await runAdmin(["restore", file, "--dry-run"], targetEnv());
      expect(dry, dry.stderr).toMatchObject({ code: 0 });
      expect(dry.stdout).toContain("dry run: nothing written");
      expect(await keysUnder(target.client, target.prefix)).toEqual([]);

      const restored = await runAdmin(["restore", file], targetEnv());
      expect(restored, restored.stderr).toMatchObject({ code: 0 });
      console.info(`restore (${setup.label}):\n${restored.stdout}`);
      expect(restored.stdout).toContain(`checked: ${rest.length} key(s)`);
      expect(restored.stdout).toMatch(new RegExp(`restored ${rest.length} key\\(s\\) in \\d+ ms`));
      expect(restored.stdout).toMatch(/verified on the target: global=\d+ room=\d+ conversation=\d+ user=\d+/);
      // Memberships come back as they were: going offline (nobody is online after a restore) is not leaving.
      expect(restored.stdout).not.toMatch(/member\(s\) left/);
      expect(restored.stdout).toContain("repair:");
      // Every record is on the target, under the target's prefix.
      const onTarget = await keysUnder(target.client, target.prefix);
      for (const name of names) expect(onTarget, name).toContain(`${target.prefix}:${name}`);
      expect(onTarget.filter((key) => /:(sess|rl):/.test(key))).toEqual([]);
      expect(await target.client.get(keys.schemaVersion)).toBe(before.schema);
      // Both rooms' keys are the same: nobody left, nothing rotated.
      expect(await target.client.hgetall(keys.roomKeys(before.pub.id))).toEqual(before.pubKeys);
      expect(await target.client.hgetall(keys.roomKeys(before.priv.id))).toEqual(before.privKeys);
      // The audit trail came with the data, the restore's entry on top.
      const trail = (await target.client.lrange(keys.audit, 0, -1)).map((entry) => JSON.parse(entry));
      expect(trail[0]).toMatchObject({ action: "restore", target: file });
      expect(trail.map((entry) => entry.action)).toContain("test-entry");

      const again = await runAdmin(["restore", file], targetEnv());
      expect(again.code).toBe(1);
      expect(again.stderr).toMatch(/already holds Sala data .*nothing restored; --force deletes every key under the prefix first/);

      // Nodes on the target serve the restored data.
      for (const i of [1, 2]) targetNodes.push(await startNode(`${target.prefix}-t${i}`, target.nodeRedisUrl, target.prefix));
      const [t1, t2] = targetNodes as [TestNode, TestNode];
      // Sessions are not in a backup: the old cookie opens nothing; everyone logs in again.
      await expectNoSessionRefused(t1, before.anaCookie);
      expect((await post(`${t1.url}/login`, { username: before.ana, password: "not the password" })).status).toBe(401);
      const login = async (node: TestNode, name: string) => {
        const answer = await post(`${node.url}/login`, { username: name, password: PASSWORD });
        expect(answer.status, JSON.stringify(answer.json)).toBe(200);
        const socket = await connect(node, answer.cookie);
        sockets.push(socket);
        return socket;
      };
      expect((await post(`${t2.url}/login`, { username: before.extra.at(-1), password: PASSWORD })).status).toBe(200);
      const ana = await login(t1, before.ana);
      const bia = await login(t2, before.bia);
      const caio = await login(t1, before.caio);
      const dan = await login(t2, before.dan);

      // Both rooms listed, the private one locked, with their members (ana and bia; ana and dan).
      const lobby = await firstLobby(dan);
      expect(lobby.rooms.find((room) => room.id === before.pub.id)).toMatchObject({ name: before.pub.name, isPrivate: false, memberCount: 2, owner: before.ana });
      expect(lobby.rooms.find((room) => room.id === before.priv.id)).toMatchObject({ name: before.priv.name, isPrivate: true, memberCount: 2 });

      // The private room still needs its password from others; dan, a member, comes back in
      // without it, to its history and keys, intact.
      expect((await request(bia, "join_room", { roomId: before.priv.id })).error.code).toBe(ErrorCode.WRONG_PASSWORD);
      expect((await request(bia, "join_room", { roomId: before.priv.id, password: "wrong-pass" })).error.code).toBe(ErrorCode.WRONG_PASSWORD);
      const privJoin = await request(dan, "join_room", { roomId: before.priv.id });
      expect(privJoin.ok, JSON.stringify(privJoin)).toBe(true);
      expect(essence(privJoin.history)).toEqual(essence(before.privHistory));
      expect(decrypt(privJoin.history, before.priv.id, privJoin.keys)).toEqual(["priv 1", "priv 2"]);

      const pubJoin = await request(ana, "join_room", { roomId: before.pub.id });
      expect(pubJoin.ok, JSON.stringify(pubJoin)).toBe(true);
      expect(pubJoin.banned).toEqual([before.caio]);
      const page = await request(ana, "history", { roomId: before.pub.id });
      expect(essence(page.messages)).toEqual(essence(before.pubHistory));
      expect(decrypt(page.messages, before.pub.id, page.keys)).toEqual(["pub 1", "pub 2", "pub 3"]);
      // The kick holds.
      expect((await request(caio, "join_room", { roomId: before.pub.id })).error.code).toBe(ErrorCode.BANNED);

      // The conversation, its history and what each side read.
      const { conversations } = await request(ana, "conversations", {});
      expect(conversations).toEqual([expect.objectContaining({ id: before.conversationId, with: before.bia, lastSeq: 3 })]);
      const biaSide = (await request(bia, "conversations", {})).conversations;
      expect(biaSide).toEqual([expect.objectContaining({ id: before.conversationId, with: before.ana, lastSeq: 3, unread: before.biaUnread })]);
      const whispers = await request(ana, "conversation_history", { with: before.bia });
      expect(essence(whispers.messages)).toEqual(essence(before.whispers));
      expect(decrypt(whispers.messages, before.conversationId, whispers.keys)).toEqual(["psst 1", "psst 2", "psst back"]);

      // Numbering goes on from the backup: the message sent after it on the source is not here.
      const sent = await request(ana, "text", { roomId: before.pub.id, msg: encryptText("pub 4", before.pub.id, pubJoin.key) });
      expect(sent, JSON.stringify(sent)).toMatchObject({ ok: true, seq: 4 });
      const current = (await request(bia, "open_conversation", { with: before.ana })).key as RoomKey;
      const whisper = await request(bia, "private_message", { to: before.ana, msg: encryptText("psst 4", before.conversationId, current) });
      expect(whisper, JSON.stringify(whisper)).toMatchObject({ ok: true, seq: 4 });

      // Nodes heartbeat on the target now: a restore is refused, even with --force, and changes nothing.
      const trailBefore = await target.client.lrange(keys.audit, 0, -1);
      const busy = await runAdmin(["restore", file, "--force"], targetEnv());
      expect(busy.code).toBe(1);
      expect(busy.stderr).toMatch(/node\(s\) .*heartbeat\(ed\) on .* within 30 s: stop every node first; nothing restored/);
      expect(await target.client.lrange(keys.audit, 0, -1)).toEqual(trailBefore);
      expect(await target.client.hgetall(keys.roomKeys(before.priv.id))).toEqual(before.privKeys);
      expect((await request(ana, "history", { roomId: before.pub.id })).messages.map((m: RoomMessage) => m.seq)).toEqual([1, 2, 3, 4]);

      // Stopped (a node takes itself off the node list), the target takes the backup again with
      // --force: every key of the prefix goes first, so what was written since is gone.
      for (const socket of sockets.splice(0)) socket.close();
      await Promise.all(targetNodes.splice(0).map(({ node }) => node.close()));
      const forced = await runAdmin(["restore", file, "--force"], targetEnv());
      expect(forced, forced.stderr).toMatchObject({ code: 0 });
      expect(forced.stdout).toMatch(/--force: deleted \d+ key\(s\) under the prefix/);
      expect(await target.client.xlen(keys.roomHistory(before.pub.id))).toBe(3);
      expect(await target.client.xlen(keys.conversationHistory(before.conversationId))).toBe(3);
      expect((await keysUnder(target.client, target.prefix)).filter((key) => /:(sess|rl):/.test(key))).toEqual([]);
    });

    it("says what is wrong with bad usage, a missing file, and embedded mode", async () => {
      const noFile = await runAdmin(["backup"], sourceEnv());
      expect(noFile.code).toBe(2);
      expect(noFile.stderr).toContain("usage: npm run admin -- backup FILE");
      const extra = await runAdmin(["restore", "a.gz", "b.gz"], sourceEnv());
      expect(extra.code).toBe(2);
      expect(extra.stderr).toContain("usage: npm run admin -- restore FILE [--force] [--dry-run]");
      const missing = await runAdmin(["restore", join(dir, "none.gz")], sourceEnv());
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain("none.gz: no such file");
      const unwritable = await runAdmin(["backup", join(dir, "no-such-dir", "x.gz")], sourceEnv());
      expect(unwritable.code).toBe(1);
      expect(unwritable.stderr).toMatch(/cannot write .*x\.gz\.tmp: ENOENT/);
      const empty = await runAdmin(["backup", join(dir, "empty.gz")], { ...setup.sourceStore, REDIS_PREFIX: uniquePrefix("empty") });
      expect(empty.code).toBe(1);
      expect(empty.stderr).toContain("no Sala data under this prefix");
      // Embedded: STORE=memory has nothing on disk; the SQLite store (the default) refuses a Redis backup.
      for (const command of [["backup", join(dir, "e.gz")], ["restore", file]]) {
        const embedded = await runAdmin(command, { REDIS_PREFIX: "x", STORE: "memory" });
        expect(embedded.code).toBe(2);
        expect(embedded.stderr).toMatch(/STORE=memory: .*nothing on disk to back up or restore into/);
      }
      const intoSqlite = await runAdmin(["restore", file], { DATA_DIR: join(dir, "sqlite-data") });
      expect(intoSqlite.code).toBe(1);
      expect(intoSqlite.stderr).toMatch(/is gzip, not SQLite: a backup of a Redis store/);
      expect((await readdir(dir)).filter((name) => ["e.gz", "empty.gz"].includes(name) || name.endsWith(".tmp"))).toEqual([]);
    });
  });
}
