/**
 * Issue 22, item 4: sala-admin on the embedded node's SQLite store, with real node processes
 * (dist/server.js, STORE=sqlite on a DATA_DIR of the test's own) and the real CLI
 * (`npm run admin -- …`, a child process). The account commands go through the node's admin socket
 * and what they did outlives a SIGKILL of the node; `backup` copies the file with SQLite's online
 * backup while messages are being written, into a file that opens and holds every one of them up
 * to one instant; `restore` refuses while the node runs and any file that is not a sound Sala
 * backup, and, the node stopped, puts the backup in place (the previous file kept aside) so that
 * the node starts on the backed-up data. Needs the built node and CLI (`npx tsc -b services/chat`).
 */
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { ErrorCode } from "@sala/protocol";
import { encryptText } from "@sala/protocol/envelope";
import type { RoomMessage } from "@sala/protocol";
import { startChildNode, type ChildNode } from "./support/child-node.js";
import { runAdmin } from "./support/admin-cli.js";
import { connect, expectNoSessionRefused, newUsername, PASSWORD, post, registerAndLogin, request, sleep, type ClientSocket } from "./support/cluster.js";

const root = mkdtempSync(join(tmpdir(), "sala-admin-sqlite-"));
const nodes: ChildNode[] = [];
const sockets: ClientSocket[] = [];
const osUser = userInfo().username;

afterAll(async () => {
  for (const socket of sockets) socket.close();
  for (const node of nodes) await node.kill();
  rmSync(root, { recursive: true, force: true });
});

/** A DATA_DIR and an admin socket of the test's own (never ./data, never the default socket). */
function place(name: string): { dataDir: string; socket: string; env: Record<string, string> } {
  const dataDir = join(root, name);
  const socket = join(root, `${name}.sock`);
  return { dataDir, socket, env: { STORE: "sqlite", DATA_DIR: dataDir, ADMIN_SOCKET: socket } };
}

/** An embedded node on SQLite in `at`'s DATA_DIR, answering the CLI on `at`'s socket. */
async function startSqliteNode(id: string, at: ReturnType<typeof place>): Promise<ChildNode> {
  const node = await startChildNode(id, null, "unused", { ...at.env, SOCKET_EVENTS_PER_SEC: "5000", HISTORY_MAX: "100000" });
  nodes.push(node);
  return node;
}

const login = (node: ChildNode, username: string, password = PASSWORD) => post(`${node.url}/login`, { username, password });
const sha256 = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");
/** What a DATA_DIR holds: names with their content's sum (a refused restore changes none of it). */
const snapshot = (dir: string) => Object.fromEntries(readdirSync(dir).sort().map((name) => [name, statSync(join(dir, name)).isFile() ? sha256(join(dir, name)) : "?"]));

/**
 * What DATA_DIR's file holds (accounts, messages) and which files are there but its -wal and -shm:
 * a refused or dry-run restore that locked the file may have folded a crashed node's WAL into it,
 * as the node does when it starts, which changes its bytes, not its data.
 */
function stored(dir: string): { files: string[]; users: string[]; messages: number } {
  const db = new Database(join(dir, "sala.sqlite"), { readonly: true, fileMustExist: true });
  try {
    return {
      files: readdirSync(dir).filter((name) => !/-(wal|shm)$/.test(name)).sort(),
      users: db.prepare<[], { name_key: string }>("SELECT name_key FROM users ORDER BY name_key").all().map((row) => row.name_key),
      messages: (db.prepare("SELECT count(*) AS n FROM room_messages").get() as { n: number }).n,
    };
  } finally {
    db.close();
  }
}

async function socketFor(node: ChildNode, cookie: string): Promise<ClientSocket> {
  const socket = await connect(node, cookie);
  sockets.push(socket);
  return socket;
}

/** Every message of the room's history as the node serves it, by seq. */
async function history(socket: ClientSocket, roomId: string): Promise<Map<number, string>> {
  const stored = new Map<number, string>();
  let afterSeq = 0;
  for (;;) {
    const page = await request(socket, "history", { roomId, afterSeq, limit: 200 });
    const messages = page.messages as RoomMessage[];
    if (messages.length === 0) return stored;
    for (const message of messages) stored.set(message.seq, message.msg);
    afterSeq = messages.at(-1)!.seq;
  }
}

/** The room's messages in a SQLite file, read directly. */
function fileHistory(db: Database.Database, roomId: string): Map<number, string> {
  const rows = db
    .prepare<[string], { seq: number; msg: string }>("SELECT m.seq, m.msg FROM room_messages m JOIN rooms r ON r.rid = m.rid WHERE r.id = ? AND m.seq > r.floor ORDER BY m.seq")
    .all(roomId);
  return new Map(rows.map((row) => [row.seq, row.msg]));
}

describe("sala-admin's account commands on a SQLite node", () => {
  it("work through the admin socket, and what they did survives a SIGKILL and a restart of the node", { timeout: 120_000 }, async () => {
    const at = place("accounts");
    let node = await startSqliteNode("adm-accounts", at);
    const [ana, bia, caio, dora] = [newUsername("ana"), newUsername("bia"), newUsername("caio"), newUsername("dora")];
    for (const name of [ana, bia, caio, dora]) await registerAndLogin(node, name);
    const admin = (...args: string[]) => runAdmin(args, at.env);

    const listed = await admin("users", "list");
    expect(listed, listed.stderr).toMatchObject({ code: 0 });
    for (const name of [ana, bia, caio, dora]) expect(listed.stdout).toContain(name);
    expect(await admin("users", "grant-admin", ana)).toMatchObject({ code: 0, stdout: `${ana} is now an admin\n` });
    expect((await admin("users", "lock", bia)).stdout).toContain(`${bia} is locked`);
    const reset = await runAdmin(["users", "reset-password", caio, "--password-stdin"], at.env, 60_000, "operator chose this 9\n");
    expect(reset, reset.stderr).toMatchObject({ code: 0 });
    expect(reset.stdout).toContain(`${caio}'s password is set; they must change it at their next login`);
    expect((await admin("users", "delete", dora)).stdout).toContain(`${dora} is deleted`);
    expect((await admin("users", "show", "nobody-here")).code).toBe(1);

    // A crash, not a shutdown: each command's effect was committed when the CLI was answered.
    await node.kill("SIGKILL");
    node = await startSqliteNode("adm-accounts", at);

    const anaLogin = await login(node, ana);
    expect(anaLogin.status).toBe(200);
    expect((await fetch(`${node.url}/metrics`, { headers: { cookie: anaLogin.cookie! } })).status).toBe(200);
    const biaLogin = await login(node, bia);
    expect(biaLogin.status).toBe(403);
    expect(biaLogin.json.error.code).toBe(ErrorCode.ACCOUNT_LOCKED);
    expect((await login(node, caio)).status).toBe(401);
    expect((await login(node, caio, "operator chose this 9")).json).toEqual({ ok: true, username: caio, mustChangePassword: true });
    expect((await login(node, dora)).status).toBe(401);
    expect((await admin("users", "show", dora)).code).toBe(1);

    const again = await admin("users", "list");
    expect(again.stdout).toMatch(new RegExp(`${ana} .*\\[admin\\]`));
    expect(again.stdout).toMatch(new RegExp(`${bia} .*\\[locked\\]`));
    expect(again.stdout).toMatch(new RegExp(`${caio} .*\\[must-change-password\\]`));
    expect(again.stdout).not.toContain(dora);
    const audit = (await admin("audit", "10")).stdout;
    for (const line of [`grant-admin ${ana}  done`, `lock ${bia}  done`, `reset-password ${caio}  done`, `delete-user ${dora}  done`]) expect(audit).toContain(`${osUser}  ${line}`);
  });
});

describe("sala-admin backup and restore on the SQLite store", () => {
  const source = place("source");
  const backupFile = join(root, "sala-backup.sqlite");
  let node: ChildNode;
  let ana: string;
  let bia: string;
  let roomId: string;
  const latecomer = newUsername("late");
  let oldCookie: string;
  /** seq → envelope of every message acknowledged, and which of them the backup holds. */
  const acked = new Map<number, string>();
  let inBackup: Map<number, string>;
  let whisper: string;

  it("backs up while messages are being written: the file opens and holds every one of them up to one instant, no sessions", { timeout: 120_000 }, async () => {
    node = await startSqliteNode("adm-source", source);
    ana = newUsername("ana");
    bia = newUsername("bia");
    oldCookie = await registerAndLogin(node, ana);
    const anaSocket = await socketFor(node, oldCookie);
    const biaSocket = await socketFor(node, await registerAndLogin(node, bia));
    const { room } = await request(anaSocket, "create_room", { name: newUsername("room"), password: "pass-1234" });
    roomId = room.id;
    const { key } = await request(anaSocket, "join_room", { roomId, password: "pass-1234" });
    const opened = await request(biaSocket, "open_conversation", { with: ana });
    whisper = encryptText("até já", opened.conversation.id, opened.key);
    expect((await request(biaSocket, "private_message", { to: ana, msg: whisper })).ok).toBe(true);

    // Ana writes without pause (one message in flight) until told to stop.
    let writing = true;
    let failure: unknown = null;
    const writer = (async () => {
      for (let i = 0; writing && i < 20_000; i++) {
        const envelope = encryptText(`message ${i}`, roomId, key);
        const ack = await request(anaSocket, "text", { roomId, msg: envelope });
        if (!ack.ok) throw new Error(JSON.stringify(ack));
        acked.set(ack.seq, envelope);
        await sleep(1);
      }
    })().then(
      () => (failure ??= writing ? new Error("the writer reached its cap") : null),
      (error: unknown) => (failure = error),
    );
    while (acked.size < 100) await sleep(10);

    const before = acked.size;
    const made = await runAdmin(["backup", backupFile], source.env);
    const afterBackup = acked.size;
    // A few more after it: the backup, taken before the CLI answered, cannot hold them.
    while (failure === null && acked.size < afterBackup + 10) await sleep(5);
    writing = false;
    await writer;
    expect(failure).toBeNull();
    expect(made, made.stderr).toMatchObject({ code: 0 });
    expect(afterBackup).toBeGreaterThan(before); // the node went on writing while the backup ran

    // The file: a sound SQLite database of Sala's schema, one self-contained file, for its owner only.
    expect(statSync(backupFile).mode & 0o777).toBe(0o600);
    expect(existsSync(`${backupFile}.tmp`)).toBe(false);
    const db = new Database(backupFile, { readonly: true, fileMustExist: true });
    try {
      expect(db.pragma("quick_check", { simple: true })).toBe("ok");
      expect(db.pragma("journal_mode", { simple: true })).toBe("delete");
      expect(db.pragma("user_version", { simple: true })).toBe(1);
      const users = db.prepare<[], { username: string }>("SELECT username FROM users ORDER BY name_key").all().map((row) => row.username);
      expect(users.sort()).toEqual([ana, bia].sort());
      inBackup = fileHistory(db, roomId);
      // One instant: every message from the first to the last it holds, each as acknowledged…
      const seqs = [...inBackup.keys()];
      expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
      for (const [seq, envelope] of inBackup) expect(envelope, `message ${seq}`).toBe(acked.get(seq));
      // … at least those acknowledged before the backup started, and not those written after it.
      expect(seqs.length).toBeGreaterThanOrEqual(before);
      expect(seqs.length).toBeLessThan(acked.size);
      expect(db.prepare("SELECT msg FROM conversation_messages").all()).toEqual([{ msg: whisper }]);
      // Sessions, their index and the throttles' counts are left out.
      expect(db.prepare("SELECT count(*) AS n FROM sessions").get()).toEqual({ n: 0 });
      expect(db.prepare("SELECT count(*) AS n FROM user_sessions").get()).toEqual({ n: 0 });
    } finally {
      db.close();
    }
    expect(made.stdout).toContain(`wrote ${backupFile}`);
    expect(made.stdout).toContain(`accounts=2 rooms=1 messages=${inBackup.size} conversations=1 whispers=1`);
    expect(made.stdout).toMatch(/left out: sessions \(2\)/);
    expect(made.stdout).toContain(`file sha256 ${sha256(backupFile)}`);

    // The node served on, and the backup is on its audit trail.
    expect(await request(anaSocket, "text", { roomId, msg: encryptText("after", roomId, key) })).toMatchObject({ ok: true, seq: acked.size + 1 });
    const audit = await runAdmin(["audit", "1"], source.env);
    expect(audit.stdout).toContain(`${osUser}  backup ${backupFile}  accounts=2 rooms=1`);
  });

  it("backup refuses to overwrite a file, and says what is wrong with DATA_DIR, usage and STORE=memory", { timeout: 60_000 }, async () => {
    const sum = sha256(backupFile);
    const again = await runAdmin(["backup", backupFile], source.env);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`${backupFile} already exists: a backup never overwrites a file`);
    expect(sha256(backupFile)).toBe(sum);

    const missing = join(root, "no-such-data");
    const noDir = await runAdmin(["backup", join(root, "x.sqlite")], { STORE: "sqlite", DATA_DIR: missing });
    expect(noDir.code).toBe(1);
    expect(noDir.stderr).toContain(`DATA_DIR ${missing} does not exist`);
    const empty = place("empty");
    writeFileSync(join(root, "not-a-dir"), "");
    const notDir = await runAdmin(["backup", join(root, "x.sqlite")], { STORE: "sqlite", DATA_DIR: join(root, "not-a-dir") });
    expect(notDir.code).toBe(1);
    expect(notDir.stderr).toContain("is not a directory");
    rmSync(join(root, "not-a-dir"));
    const noFile = await runAdmin(["backup", join(root, "x.sqlite")], { ...empty.env, DATA_DIR: root });
    expect(noFile.code).toBe(1);
    expect(noFile.stderr).toContain(`no sala.sqlite in DATA_DIR ${root}`);
    const unwritable = await runAdmin(["backup", join(root, "nowhere", "x.sqlite")], source.env);
    expect(unwritable.code).toBe(1);
    expect(unwritable.stderr).toMatch(/cannot write .*x\.sqlite\.tmp: ENOENT/);
    expect(existsSync(join(root, "x.sqlite"))).toBe(false);

    const usage = await runAdmin(["backup"], source.env);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("usage: npm run admin -- backup FILE");
    const memory = await runAdmin(["backup", join(root, "m.sqlite")], { STORE: "memory" });
    expect(memory.code).toBe(2);
    expect(memory.stderr).toContain("STORE=memory: the embedded node keeps its data in its memory");
    const both = await runAdmin(["backup", join(root, "m.sqlite")], { STORE: "sqlite", REDIS_URL: "redis://127.0.0.1:1" });
    expect(both.code).toBe(2);
    expect(both.stderr).toContain("STORE chooses the embedded node's store");
  });

  it("restore refuses while the node runs (by its admin socket, or by DATA_DIR's lock), moving and staging nothing", { timeout: 60_000 }, async () => {
    // Written after the backup: the restore takes it away.
    await registerAndLogin(node, latecomer);
    const answered = await runAdmin(["restore", backupFile, "--force"], source.env);
    expect(answered.code).toBe(1);
    expect(answered.stderr).toContain(`a node answers on the admin socket ${source.socket}: stop it first`);
    // The CLI told another socket (another PORT): the node's lock on DATA_DIR still stops it.
    const locked = await runAdmin(["restore", backupFile, "--force"], { ...source.env, ADMIN_SOCKET: join(root, "elsewhere.sock") });
    expect(locked.code).toBe(1);
    expect(locked.stderr).toContain(`DATA_DIR ${source.dataDir} is in use by a Sala node (pid ${node.process.pid}): stop it first (SIGTERM)`);
    expect(locked.stderr).toContain("--force does not override this; nothing restored");
    // A dry run checks the same lock, taking nothing.
    const dry = await runAdmin(["restore", backupFile, "--force", "--dry-run"], { ...source.env, ADMIN_SOCKET: join(root, "elsewhere.sock") });
    expect(dry.code).toBe(1);
    expect(dry.stderr).toContain(`DATA_DIR ${source.dataDir} is in use by a Sala node (pid ${node.process.pid})`);
    // Nothing moved, nothing staged; the node serves on, on its own data.
    expect(readdirSync(source.dataDir).filter((name) => name.includes("before-restore") || name.includes("restoring"))).toEqual([]);
    expect((await login(node, latecomer)).status).toBe(200);
    // Stopped the hard way: the latecomer may be only in the WAL the crash leaves beside the file.
    await node.kill("SIGKILL");
  });

  it("refuses a file that is not a sound Sala backup, writing nothing", { timeout: 60_000 }, async () => {
    const before = snapshot(source.dataDir);
    const cases: Array<[string, Buffer | null, RegExp]> = [
      ["missing.sqlite", null, /missing\.sqlite: no such file; nothing restored/],
      ["redis.backup.gz", gzipSync('{"format":"sala-backup"}\n'), /is gzip, not SQLite: a backup of a Redis store/],
      ["notes.txt", Buffer.from("not a database at all\n"), /is not a SQLite database \(nor a Sala backup\)/],
      // Cut short: the header promises pages the file does not have.
      ["cut.sqlite", readFileSync(backupFile).subarray(0, 3 * 4096), /damaged|malformed|cannot be read/],
    ];
    const foreign = join(root, "foreign.sqlite");
    const other = new Database(foreign);
    other.exec("CREATE TABLE t (x)");
    other.close();
    for (const [name, content, error] of cases) {
      const file = join(root, name);
      if (content) writeFileSync(file, content);
      const refused = await runAdmin(["restore", file, "--force"], source.env);
      expect(refused.code, `${name}: ${refused.stdout}`).toBe(1);
      expect(refused.stderr).toMatch(error);
    }
    const notSala = await runAdmin(["restore", foreign, "--force"], source.env);
    expect(notSala.code).toBe(1);
    expect(notSala.stderr).toContain("is a SQLite database, but not Sala's");
    expect(snapshot(source.dataDir)).toEqual(before);

    expect((await runAdmin(["restore"], source.env)).code).toBe(2);
    expect((await runAdmin(["restore", backupFile, "--bogus"], source.env)).code).toBe(2);
    const memory = await runAdmin(["restore", backupFile], { STORE: "memory" });
    expect(memory.code).toBe(2);
    expect(memory.stderr).toContain("nothing on disk to back up or restore into");
  });

  it("restores into the stopped node's DATA_DIR, keeping the previous file aside; the node starts with the backed-up data", { timeout: 120_000 }, async () => {
    const target = join(source.dataDir, "sala.sqlite");
    const before = stored(source.dataDir);
    expect(before.users).toContain(latecomer.toLowerCase());
    // Another process with the file open (a sqlite3 shell, say) stops it too, whatever DATA_DIR's lock says.
    const shell = new Database(target, { timeout: 0 });
    shell.pragma("locking_mode = EXCLUSIVE");
    shell.exec("BEGIN EXCLUSIVE");
    try {
      const busy = await runAdmin(["restore", backupFile, "--force"], source.env);
      expect(busy.code).toBe(1);
      expect(busy.stderr).toContain(`${target} is in use by another process`);
    } finally {
      shell.close();
    }
    const refused = await runAdmin(["restore", backupFile], source.env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/sala\.sqlite holds accounts=3 .*: nothing restored; --force keeps it aside/);
    const dry = await runAdmin(["restore", backupFile, "--force", "--dry-run"], source.env);
    expect(dry, dry.stderr).toMatchObject({ code: 0 });
    expect(dry.stdout).toContain(`dry run: nothing written to DATA_DIR ${source.dataDir}`);
    expect(dry.stdout).toMatch(/would be kept as .*sala\.sqlite\.before-restore-/);
    expect(stored(source.dataDir)).toEqual(before);

    const restored = await runAdmin(["restore", backupFile, "--force"], source.env);
    expect(restored, restored.stderr).toMatchObject({ code: 0 });
    expect(restored.stdout).toContain(`restored ${target}`);
    expect(restored.stdout).toContain(`sha256 ${sha256(backupFile)}`);
    // The previous file is kept, whole on its own (the crashed node's WAL folded in): the latecomer is in it.
    const aside = readdirSync(source.dataDir).filter((name) => /^sala\.sqlite\.before-restore-[\dT.Z-]+$/.test(name));
    expect(aside).toHaveLength(1);
    const kept = new Database(join(source.dataDir, aside[0]!), { readonly: true, fileMustExist: true });
    expect(kept.prepare("SELECT count(*) AS n FROM users WHERE name_key = ?").get(latecomer.toLowerCase())).toEqual({ n: 1 });
    kept.close();
    expect(readdirSync(source.dataDir).filter((name) => /^sala\.sqlite(-wal|-shm|\.restoring)/.test(name))).toEqual([]);
    expect(statSync(target).mode & 0o777).toBe(0o600);

    node = await startSqliteNode("adm-source", source);
    // The backed-up accounts log in; what came after the backup is gone; sessions were not in it.
    await expectNoSessionRefused(node, oldCookie);
    expect((await login(node, latecomer)).status).toBe(401);
    const cookie = (await login(node, ana)).cookie!;
    const socket = await socketFor(node, cookie);
    expect((await request(socket, "join_room", { roomId, resume: true })).ok).toBe(true);
    expect(await history(socket, roomId)).toEqual(inBackup);
    const mine = await request(socket, "open_conversation", { with: bia });
    expect(mine.history.map((message: { msg: string }) => message.msg)).toEqual([whisper]);
    // The restore's entry on the restored trail (the backup's own entry came after its copy).
    const audit = (await runAdmin(["audit", "5"], source.env)).stdout.trim().split("\n");
    expect(audit).toHaveLength(1);
    expect(audit[0]).toContain(`${osUser}  restore ${backupFile}  accounts=2 rooms=1 messages=${inBackup.size}`);
  });

  it("restores into a new DATA_DIR (created) without --force, and a node starts on it", { timeout: 60_000 }, async () => {
    const fresh = place("fresh");
    const restored = await runAdmin(["restore", backupFile], fresh.env);
    expect(restored, restored.stderr).toMatchObject({ code: 0 });
    expect(restored.stdout).toContain(`no sala.sqlite in DATA_DIR ${fresh.dataDir} yet`);
    // Made as the node makes it, for its OS user only; DATA_DIR's lock (held during the restore) stays.
    expect(statSync(fresh.dataDir).mode & 0o777).toBe(0o700);
    expect(readdirSync(fresh.dataDir).sort()).toEqual(["node.lock", "node.lock.owner", "sala.sqlite"]);
    const other = await startSqliteNode("adm-fresh", fresh);
    const cookie = (await login(other, ana)).cookie!;
    const socket = await socketFor(other, cookie);
    expect((await request(socket, "join_room", { roomId, resume: true })).ok).toBe(true);
    expect((await history(socket, roomId)).size).toBe(inBackup.size);
  });
});
