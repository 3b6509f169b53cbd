/**
 * Issue 20, items 1–3 over HTTP: the admin page's API (admins' sessions only, the same actions as
 * `sala-admin`, audited as `web:<admin>`), the users' own account routes (change the password,
 * delete the account), and the embedded node, where the CLI acts through the admin socket and the
 * notices are applied in-process. Two live nodes on the run's Redis, real sockets.
 */
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ErrorCode, type AdminAccount, type RoomSummary } from "@sala/protocol";
import { uniquePrefix } from "./support/redis-client.js";
import { runAdmin } from "./support/admin-cli.js";
import {
  adminEnv,
  connect,
  eventually,
  newUsername,
  PASSWORD,
  post,
  record,
  registerAndLogin,
  request,
  startCluster,
  startNode,
  TEST_ORIGIN,
  type ClientSocket,
  type TestCluster,
  type TestNode,
  watchedSocket,
} from "./support/cluster.js";

const sockets: ClientSocket[] = [];

async function get(node: TestNode, path: string, cookie?: string): Promise<{ status: number; json: any }> {
  const response = await fetch(`${node.url}${path}`, { headers: cookie ? { cookie } : {} });
  return { status: response.status, json: await response.json() };
}

/** A POST as the browser sends it: JSON, the page's Origin, the session cookie. */
function send(node: TestNode, path: string, cookie: string, body: unknown = {}, origin = TEST_ORIGIN) {
  return post(`${node.url}${path}`, body, { cookie, origin });
}

/** A socket of `cookie` on `node` that records its sign-out and its disconnection. */
const watched = (node: TestNode, cookie: string) => watchedSocket(node, cookie, sockets);

afterAll(() => {
  for (const socket of sockets) socket.close();
});

describe("the admin API behind /admin", () => {
  let cluster: TestCluster;
  let n1: TestNode;
  let n2: TestNode;
  let root: string;
  let rootCookie: string;
  let userCookie: string;
  const tag = newUsername("api").toLowerCase();

  beforeAll(async () => {
    cluster = await startCluster(2, inject("redisUrl"));
    [n1, n2] = cluster.nodes as [TestNode, TestNode];
    root = `${tag}root`;
    rootCookie = await registerAndLogin(n1, root);
    expect((await runAdmin(["users", "grant-admin", root], adminEnv(cluster))).code).toBe(0);
    userCookie = await registerAndLogin(n2, `${tag}plain`);
    for (let i = 0; i < 12; i++) await post(`${n2.url}/register`, { username: `${tag}u${String(i).padStart(2, "0")}`, password: PASSWORD });
  });
  afterAll(async () => {
    await cluster?.close();
  });

  it("answers admins only: 401 without a session, 403 for a user, on every route", async () => {
    for (const path of ["/admin/api/users", `/admin/api/users/${root}`, "/admin/api/rooms", "/admin/api/stats", "/admin/api/audit"]) {
      expect((await get(n1, path)).json.error.code, path).toBe(ErrorCode.UNAUTHORIZED);
      expect((await get(n2, path, userCookie)).status, path).toBe(403);
    }
    const forbidden = await send(n2, `/admin/api/users/${root}/lock`, userCookie);
    expect(forbidden.status).toBe(403);
    expect((await get(n1, `/admin/api/users/${root}`, rootCookie)).json.user.lockedAt).toBe(0);
    expect((await fetch(`${n1.url}/admin`, { headers: { cookie: userCookie } })).status).toBe(403);
    expect((await fetch(`${n1.url}/admin`, { redirect: "manual" })).headers.get("location")).toBe("/login?next=/admin"); // back to /admin after the login
  });

  it("searches and pages accounts by name, and shows one without its password hash", async () => {
    const first = await get(n1, `/admin/api/users?prefix=${tag}u&limit=5`, rootCookie);
    expect(first.status).toBe(200);
    expect(first.json.users.map((u: AdminAccount) => u.username)).toEqual(["00", "01", "02", "03", "04"].map((n) => `${tag}u${n}`));
    expect(first.json.next).toBe(`${tag}u04`);
    const rest = await get(n2, `/admin/api/users?prefix=${tag}u&after=${first.json.next}&limit=200`, rootCookie);
    expect(rest.json.users).toHaveLength(7);
    expect(rest.json.next).toBeNull();
    const shown = await get(n2, `/admin/api/users/${root.toUpperCase()}`, rootCookie);
    expect(shown.json.user).toMatchObject({ username: root, admin: true, online: false, lockedAt: 0, mustChangePassword: false });
    expect(shown.json.user.sessions).toHaveLength(1);
    expect(JSON.stringify(shown.json)).not.toContain("argon2");
    expect(Object.keys(shown.json.user).sort()).toEqual(
      ["username", "createdAt", "admin", "lockedAt", "mustChangePassword", "lastLoginAt", "lastSeenAt", "online", "rooms", "owned", "sessions", "conversations"].sort(),
    );
  });

  it("refuses bad input with 400 and changes nothing", async () => {
    expect((await get(n1, "/admin/api/users?limit=abc", rootCookie)).status).toBe(400);
    expect((await get(n1, "/admin/api/users?limit=5&extra=1", rootCookie)).status).toBe(400);
    expect((await get(n1, "/admin/api/users/bad:name", rootCookie)).status).toBe(400);
    expect((await get(n1, "/admin/api/rooms/not-a-room-id!", rootCookie)).status).toBe(400);
    const target = `${tag}u00`;
    expect((await send(n1, `/admin/api/users/${target}/reset-password`, rootCookie, { password: "short" })).json.error.code).toBe(ErrorCode.WEAK_PASSWORD);
    expect((await send(n1, `/admin/api/users/${target}/reset-password`, rootCookie, { pw: "x" })).status).toBe(400);
    expect((await send(n1, `/admin/api/users/${target}/revoke-sessions`, rootCookie, { session: "../../etc" })).status).toBe(400);
    expect((await send(n1, "/admin/api/users/nobody-here/lock", rootCookie)).status).toBe(404);
    // Another site cannot make an admin's browser act.
    expect((await send(n1, `/admin/api/users/${target}/lock`, rootCookie, {}, "https://evil.example")).json.error.code).toBe(ErrorCode.BAD_ORIGIN);
    expect((await get(n1, `/admin/api/users/${target}`, rootCookie)).json.user).toMatchObject({ lockedAt: 0, mustChangePassword: false });
    // Nor does an admin lock, delete or demote themselves from the page.
    for (const action of ["lock", "delete", "revoke-admin"]) {
      expect((await send(n1, `/admin/api/users/${root}/${action}`, rootCookie)).json.error.code).toBe(ErrorCode.BAD_REQUEST);
    }
    expect((await get(n1, `/admin/api/users/${root}`, rootCookie)).json.user).toMatchObject({ admin: true, lockedAt: 0 });
  });

  it("locks a user live on the other node, resets a password (one-time, shown once), and every action is on record as web:<admin>", async () => {
    const victim = `${tag}u01`;
    const open = await watched(n2, await registerAndLoginExisting(n2, victim));
    const locked = await send(n1, `/admin/api/users/${victim}/lock`, rootCookie);
    expect(locked.json).toEqual({ ok: true, username: victim, sessionsEnded: 1 });
    await eventually(() => open.closed(), 5000, "the victim's socket closed");
    expect(open.signedOut).toEqual([{ reason: "locked" }]);
    expect((await post(`${n2.url}/login`, { username: victim, password: PASSWORD })).json.error.code).toBe(ErrorCode.ACCOUNT_LOCKED);
    expect((await send(n1, `/admin/api/users/${victim}/unlock`, rootCookie)).json).toEqual({ ok: true, username: victim, outcome: "done" });

    const reset = await send(n2, `/admin/api/users/${victim}/reset-password`, rootCookie);
    expect(reset.json.oneTimePassword).toMatch(/^[a-z2-9]{4}(-[a-z2-9]{4}){3}$/);
    expect((await post(`${n1.url}/login`, { username: victim, password: reset.json.oneTimePassword })).json.mustChangePassword).toBe(true);
    const audit = (await get(n1, "/admin/api/audit?limit=3", rootCookie)).json.entries as Array<{ actor: string; action: string; target: string }>;
    expect(audit.map((e) => `${e.actor} ${e.action} ${e.target}`)).toEqual([`web:${root} reset-password ${victim}`, `web:${root} unlock ${victim}`, `web:${root} lock ${victim}`]);
    expect(JSON.stringify(audit)).not.toContain(reset.json.oneTimePassword);
  });

  it("lists, shows and deletes rooms; members on the other node see the room go; stats count both nodes", async () => {
    const owner = await watched(n2, await registerAndLoginExisting(n2, `${tag}u02`));
    const room = (await request(owner.socket, "create_room", { name: `api room ${tag}` })).room as RoomSummary;
    await request(owner.socket, "join_room", { roomId: room.id });
    const gone = record(owner.socket, "room_deleted");
    const listed = await get(n1, `/admin/api/rooms?prefix=${encodeURIComponent(`api room ${tag}`)}`, rootCookie);
    expect(listed.json.rooms.map((r: RoomSummary) => r.id)).toEqual([room.id]);
    expect((await get(n1, `/admin/api/rooms/${room.id}`, rootCookie)).json).toMatchObject({ room: { id: room.id, memberCount: 1 }, members: [`${tag}u02`], barred: [], keyId: 1 });
    expect((await send(n1, `/admin/api/rooms/${room.id}/delete`, rootCookie)).json).toEqual({ ok: true, room: { id: room.id, name: `api room ${tag}` } });
    await eventually(() => gone.length === 1, 5000, "room_deleted");
    expect((await get(n1, `/admin/api/rooms/${room.id}`, rootCookie)).status).toBe(404);
    // Both nodes sample every second; a node counts as live while its latest sample is fresh.
    let stats: { accounts: number; nodes: Array<{ node: string }> } = { accounts: 0, nodes: [] };
    await eventually(async () => {
      stats = (await get(n2, "/admin/api/stats", rootCookie)).json.stats;
      return stats.nodes.length === 2;
    }, 5000, "both nodes in the stats");
    expect(stats.accounts).toBeGreaterThanOrEqual(14);
    expect(stats.nodes.map((node) => node.node).sort()).toEqual([n1.id, n2.id].sort());
  });
});

/** Logs an existing account (password PASSWORD) in on `node`; the cookie. */
async function registerAndLoginExisting(node: TestNode, username: string): Promise<string> {
  const login = await post(`${node.url}/login`, { username, password: PASSWORD });
  if (!login.cookie) throw new Error(`login ${username}: ${JSON.stringify(login.json)}`);
  return login.cookie;
}

describe("a user's own account: change the password, delete the account", () => {
  let cluster: TestCluster;
  let n1: TestNode;
  let n2: TestNode;

  beforeAll(async () => {
    cluster = await startCluster(2, inject("redisUrl"));
    [n1, n2] = cluster.nodes as [TestNode, TestNode];
  });
  afterAll(async () => {
    await cluster?.close();
  });

  it("changes the password with the current one: the other sessions end live, this one goes on", async () => {
    const gil = newUsername("gil");
    const here = await registerAndLogin(n1, gil);
    const elsewhere = await watched(n2, await registerAndLoginExisting(n2, gil));
    const mine = await watched(n1, here);
    // A wrong current password is 403, not 401: this session stays logged in.
    const wrong = await send(n1, "/account/password", here, { currentPassword: "wrong password 1", newPassword: "brand new phrase 5" });
    expect([wrong.status, wrong.json.error.code]).toEqual([403, ErrorCode.WRONG_PASSWORD]);
    expect((await send(n1, "/account/password", here, { currentPassword: PASSWORD, newPassword: "password" })).json.error.code).toBe(ErrorCode.WEAK_PASSWORD);
    expect((await send(n1, "/account/password", here, { currentPassword: PASSWORD, newPassword: "x", extra: 1 })).status).toBe(400);
    expect(elsewhere.closed()).toBe(false);

    const changed = await send(n1, "/account/password", here, { currentPassword: PASSWORD, newPassword: "brand new phrase 5" });
    expect(changed.json).toEqual({ ok: true, sessionsEnded: 1 });
    await eventually(() => elsewhere.closed(), 5000, "the other session's socket closed");
    expect(elsewhere.signedOut).toEqual([{ reason: "password_changed" }]);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(mine.closed()).toBe(false);
    expect((await get(n2, "/session", here)).json).toEqual({ ok: true, username: gil });
    expect((await post(`${n2.url}/login`, { username: gil, password: PASSWORD })).status).toBe(401);
    expect((await post(`${n2.url}/login`, { username: gil, password: "brand new phrase 5" })).status).toBe(200);
    expect((await post(`${n1.url}/account/password`, { currentPassword: PASSWORD, newPassword: "whatever it is 9" })).status).toBe(401);
  });

  it("changes the password of a user with one session: nobody else is signed out, not even on the other node", async () => {
    const ula = newUsername("ula");
    const cookie = await registerAndLogin(n1, ula);
    const mine = await watched(n1, cookie);
    const bystanders = [await watched(n1, await registerAndLogin(n1, newUsername("by"))), await watched(n2, await registerAndLogin(n2, newUsername("by")))];
    const changed = await send(n2, "/account/password", cookie, { currentPassword: PASSWORD, newPassword: "only session here 4" });
    expect(changed.json).toEqual({ ok: true, sessionsEnded: 0 });
    await new Promise((resolve) => setTimeout(resolve, 500));
    for (const socket of [mine, ...bystanders]) {
      expect(socket.closed()).toBe(false);
      expect(socket.signedOut).toEqual([]);
    }
    // The session that changed it goes on, reconnections included.
    const again = await watched(n2, cookie);
    expect(again.closed()).toBe(false);
  });

  it("deletes the account only with its password: sessions end, the name is free", async () => {
    const hal = newUsername("hal");
    const cookie = await registerAndLogin(n2, hal);
    const open = await watched(n1, cookie);
    const room = (await request(open.socket, "create_room", { name: `sala ${hal}` })).room as RoomSummary;
    expect((await send(n2, "/account/delete", cookie, { password: "not my password" })).json.error.code).toBe(ErrorCode.WRONG_PASSWORD);
    expect((await get(n1, "/session", cookie)).status).toBe(200);

    const deleted = await fetch(`${n2.url}/account/delete`, {
      method: "POST",
      headers: { "content-type": "application/json", cookie, origin: TEST_ORIGIN },
      body: JSON.stringify({ password: PASSWORD }),
    });
    expect(deleted.status).toBe(200);
    expect(deleted.headers.get("set-cookie")).toMatch(/^sala\.sid=; .*Expires=Thu, 01 Jan 1970/);
    await eventually(() => open.closed(), 5000, "socket closed");
    expect(open.signedOut).toEqual([{ reason: "deleted" }]);
    expect((await get(n1, "/session", cookie)).status).toBe(401);
    expect((await post(`${n1.url}/login`, { username: hal, password: PASSWORD })).status).toBe(401);
    const someone = await connect(n1, await registerAndLogin(n1, newUsername("ivo")));
    sockets.push(someone);
    expect((await request(someone, "join_room", { roomId: room.id })).error.code).toBe(ErrorCode.ROOM_NOT_FOUND);
    expect((await post(`${n1.url}/register`, { username: hal, password: PASSWORD })).status).toBe(201);
  });
});

describe("sessions no index lists (logged in before the index existed, or through an older node)", () => {
  let cluster: TestCluster;
  let n1: TestNode;
  let n2: TestNode;
  let redis: Redis;

  beforeAll(async () => {
    cluster = await startCluster(2, inject("redisUrl"));
    [n1, n2] = cluster.nodes as [TestNode, TestNode];
    redis = new Redis(inject("redisUrl"));
  });
  afterAll(async () => {
    redis?.disconnect();
    await cluster?.close();
  });

  /** Logs in and takes the session off the user's index, as a session from before the index. */
  async function unlistedSession(node: TestNode, username: string): Promise<string> {
    const cookie = await registerAndLogin(node, username);
    expect(await redis.del(`${cluster.prefix}:user:${username.toLowerCase()}:sessions`)).toBe(1);
    return cookie;
  }

  it("are ended by a lock all the same: sockets closed on every node, the cookie refused everywhere, even after the unlock", async () => {
    const vic = newUsername("vic");
    const cookie = await unlistedSession(n1, vic);
    const sockets = [await watched(n1, cookie), await watched(n2, cookie)];
    const locked = await runAdmin(["users", "lock", vic], adminEnv(cluster));
    expect(locked.stdout).toContain("0 session(s) ended"); // none listed …
    await eventually(() => sockets.every((socket) => socket.closed()), 5000, "sockets closed"); // … all closed
    for (const node of [n1, n2]) {
      expect((await get(node, "/session", cookie)).status).toBe(401);
      await expect(connect(node, cookie)).rejects.toThrow();
    }
    expect((await runAdmin(["users", "unlock", vic], adminEnv(cluster))).code).toBe(0);
    expect((await get(n2, "/session", cookie)).status).toBe(401); // that session is over for good
    expect((await post(`${n2.url}/login`, { username: vic, password: PASSWORD })).status).toBe(200);
  });

  it("lose the admin page when their admin is locked, and every session older than a reset or a revocation", async () => {
    const wes = newUsername("wes");
    const cookie = await unlistedSession(n1, wes);
    expect((await runAdmin(["users", "grant-admin", wes], adminEnv(cluster))).code).toBe(0);
    expect((await get(n1, "/admin/api/stats", cookie)).status).toBe(200);
    expect((await runAdmin(["sessions", "revoke", wes], adminEnv(cluster))).code).toBe(0);
    expect((await get(n1, "/admin/api/stats", cookie)).status).toBe(401);
    expect((await get(n2, "/metrics", cookie)).status).toBe(401);

    const xia = newUsername("xia");
    const old = await unlistedSession(n2, xia);
    expect((await runAdmin(["users", "reset-password", xia], adminEnv(cluster))).code).toBe(0);
    expect((await get(n1, "/session", old)).status).toBe(401);
    expect((await send(n1, "/account/password", old, { currentPassword: PASSWORD, newPassword: "take it back 11" })).status).toBe(401);
  });
});

describe("embedded: sala-admin through the node's admin socket, notices applied in-process", () => {
  let node: TestNode;
  let socketPath: string;

  beforeAll(async () => {
    socketPath = join(tmpdir(), `${uniquePrefix("adm")}.sock`);
    node = await startNode(uniquePrefix("embedded"), null, uniquePrefix("embedded"), { ADMIN_SOCKET: socketPath });
  });
  afterAll(async () => {
    await node?.node.close();
  });

  it("locks, unlocks, shows and deletes with live effects on the node's sockets", async () => {
    const env = { ADMIN_SOCKET: socketPath };
    const jo = newUsername("jo");
    const open = await watched(node, await registerAndLogin(node, jo));
    const room = (await request(open.socket, "create_room", { name: `sala ${jo}` })).room as RoomSummary;
    const other = await watched(node, await registerAndLogin(node, newUsername("kim")));
    await request(other.socket, "join_room", { roomId: room.id });
    const gone = record(other.socket, "room_deleted");

    expect((await runAdmin(["users", "show", jo], env)).stdout).toContain("[online]");
    const locked = await runAdmin(["users", "lock", jo], env);
    expect(locked.stdout).toContain(`${jo} is locked; 1 session(s) ended`);
    await eventually(() => open.closed(), 5000, "socket closed");
    expect(open.signedOut).toEqual([{ reason: "locked" }]);
    expect((await post(`${node.url}/login`, { username: jo, password: PASSWORD })).json.error.code).toBe(ErrorCode.ACCOUNT_LOCKED);
    expect((await runAdmin(["users", "unlock", jo], env)).code).toBe(0);
    const deleted = await runAdmin(["users", "delete", jo], env);
    expect(deleted.stdout).toContain(`${jo} is deleted: 1 owned room(s) deleted`);
    await eventually(() => gone.length === 1, 5000, "room_deleted");
    expect((await runAdmin(["users", "list"], env)).stdout).not.toContain(jo);
    expect((await runAdmin(["stats"], env)).stdout).toMatch(/^nodes +1 live$/m);
  });
});
