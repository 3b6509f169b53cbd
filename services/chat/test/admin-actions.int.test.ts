/**
 * Issue 20, item 1: the operator's commands, run as an operator runs them (`npm run admin -- …`, a
 * child process on the cluster's store) against two live nodes with connected sockets: each
 * action takes effect live on every node (admin notices), is refused cleanly on bad input, and
 * leaves an audit entry. Also the admin API behind /admin and the users' own account routes.
 * Needs the built CLI (`npx tsc -b services/chat`). admin-actions.redis-cluster.int.test.ts runs
 * the same suite on the run's Redis Cluster.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ErrorCode, type RoomKey, type RoomSummary } from "@sala/protocol";
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
  TEST_ORIGIN,
  type ClientSocket,
  type TestCluster,
  type TestNode,
  watchedSocket,
} from "./support/cluster.js";
import { runAdmin } from "./support/admin-cli.js";

let cluster: TestCluster;
let n1: TestNode;
let n2: TestNode;
let env: Record<string, string>;
const sockets: ClientSocket[] = [];

const admin = (...args: string[]) => runAdmin(args, env);

async function login(node: TestNode, username: string, password = PASSWORD) {
  return post(`${node.url}/login`, { username, password });
}

async function session(node: TestNode, cookie: string): Promise<{ status: number; json: any }> {
  const response = await fetch(`${node.url}/session`, { headers: { cookie } });
  return { status: response.status, json: await response.json() };
}

/** A socket of `cookie` on `node` that records its sign-out and its disconnection. */
const watched = (node: TestNode, cookie: string) => watchedSocket(node, cookie, sockets);

/**
 * Why a handshake with `cookie` is refused (the protocol's code, as a polling handshake reads it:
 * a websocket upgrade only says "websocket error"), or "connected".
 */
async function refusal(node: TestNode, cookie: string): Promise<string> {
  const polled = await fetch(`${node.url}/socket.io/?EIO=4&transport=polling`, { headers: { origin: TEST_ORIGIN, cookie } });
  if (polled.status === 200) {
    sockets.push(await connect(node, cookie));
    return "connected";
  }
  return ((await polled.json()) as { message: string }).message;
}

describe("sala-admin with live nodes and sockets", () => {
  beforeAll(async () => {
    cluster = await startCluster(2, inject("redisUrl"));
    [n1, n2] = cluster.nodes as [TestNode, TestNode];
    env = adminEnv(cluster);
  });
  afterAll(async () => {
    for (const socket of sockets) socket.close();
    await cluster?.close();
  });

  it("lists and searches accounts by name a page at a time, and shows one with its rooms, sessions and last seen", async () => {
    const tag = newUsername("dir").toLowerCase();
    const names = ["a", "b", "c", "d", "e"].map((letter) => `${tag}${letter}`);
    for (const name of names) await post(`${n1.url}/register`, { username: name, password: PASSWORD });
    const first = await admin("users", "search", tag, "--limit", "3");
    expect(first.code).toBe(0);
    const lines = first.stdout.trim().split("\n");
    expect(lines.slice(0, 3).map((line) => line.split(/\s+/)[0])).toEqual(names.slice(0, 3));
    expect(lines[3]).toBe(`… more: users search ${tag} --after ${names[2]}`);
    const second = await admin("users", "search", tag, "--after", names[2]!, "--limit", "3");
    expect(second.stdout.trim().split("\n").map((line) => line.split(/\s+/)[0])).toEqual(names.slice(3));

    const cookie = (await login(n2, names[0]!)).cookie!;
    const { socket } = await watched(n2, cookie);
    const room = (await request(socket, "create_room", { name: `dir room ${tag}` })).room as RoomSummary;
    await request(socket, "join_room", { roomId: room.id });
    const shown = await admin("users", "show", names[0]!.toUpperCase());
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain("[online]");
    expect(shown.stdout).toMatch(new RegExp(`member of +dir room ${tag} \\(${room.id}\\)`));
    expect(shown.stdout).toMatch(/sessions +[A-Za-z0-9_-]{10} \(login 20\d\d-/);
    expect(shown.stdout).toMatch(/last login +20\d\d-/);
    // Never a session id, never a password hash.
    expect(shown.stdout).not.toContain(decodeURIComponent(cookie.split("=")[1]!).slice(2, 34));
    expect(shown.stdout).not.toContain("$argon2");

    expect((await admin("users", "show", "nobody-here")).code).toBe(1);
    expect((await admin("users", "search")).code).toBe(2);
    expect((await admin("users", "list", "--limit", "0")).code).toBe(2);
    expect((await admin("users", "list", "--bogus", "1")).code).toBe(2);
  });

  it("lock refuses logins and ends every session, closing the user's sockets on every node at once; unlock lets them in again", async () => {
    const bea = newUsername("bea");
    const cookie1 = await registerAndLogin(n1, bea);
    const cookie2 = (await login(n2, bea)).cookie!;
    const [onN1, onN2] = [await watched(n1, cookie1), await watched(n2, cookie2)];

    const locked = await admin("users", "lock", bea);
    expect(locked.code).toBe(0);
    expect(locked.stdout).toContain(`${bea} is locked; 2 session(s) ended`);
    await eventually(() => onN1.closed() && onN2.closed(), 5000, "both sockets closed");
    expect(onN1.signedOut).toEqual([{ reason: "locked" }]);
    expect(onN2.signedOut).toEqual([{ reason: "locked" }]);
    // The sessions are gone on every node; the right password is told the account is locked,
    // a wrong one only that it is wrong.
    expect((await session(n2, cookie1)).status).toBe(401);
    expect(await refusal(n1, cookie2)).toBe(ErrorCode.UNAUTHORIZED);
    const refused = await login(n1, bea);
    expect(refused.status).toBe(403);
    expect(refused.json.error.code).toBe(ErrorCode.ACCOUNT_LOCKED);
    expect(refused.cookie).toBeNull();
    expect((await login(n1, bea, "not the password")).json.error.code).toBe(ErrorCode.INVALID_CREDENTIALS);
    expect((await admin("users", "show", bea)).stdout).toMatch(/\[locked\]/);

    expect((await admin("users", "unlock", bea)).stdout).toContain(`${bea} is unlocked`);
    expect((await admin("users", "unlock", bea)).stdout).toContain(`${bea} was not locked`);
    const again = await login(n2, bea);
    expect(again.status).toBe(200);
    expect(await refusal(n1, again.cookie!)).toBe("connected");
    const audit = (await admin("audit", "5")).stdout;
    expect(audit).toMatch(new RegExp(`lock ${bea}  done sessions=2`));
    expect(audit).toMatch(new RegExp(`unlock ${bea}  done`));
  });

  it("reset-password: a one-time password, shown once, that must be replaced before anything else; every session ends", async () => {
    const caio = newUsername("caio");
    const cookie = await registerAndLogin(n1, caio);
    const open = await watched(n2, cookie);
    const reset = await admin("users", "reset-password", caio);
    expect(reset.code).toBe(0);
    const oneTime = reset.stdout.trim().split("\n").at(-1)!;
    expect(oneTime).toMatch(/^[a-z2-9]{4}(-[a-z2-9]{4}){3}$/);
    await eventually(() => open.closed(), 5000, "socket closed");
    expect(open.signedOut).toEqual([{ reason: "password_reset" }]);
    expect((await admin("audit", "1")).stdout).not.toContain(oneTime);

    expect((await login(n1, caio)).status).toBe(401); // the old password is gone
    const first = await login(n2, caio, oneTime);
    expect(first.status).toBe(200);
    expect(first.json).toEqual({ ok: true, username: caio, mustChangePassword: true });
    // Until a new password is chosen the session reaches nothing: no socket, no /session.
    expect(await refusal(n1, first.cookie!)).toBe(ErrorCode.PASSWORD_CHANGE_REQUIRED);
    expect((await session(n1, first.cookie!)).json.error.code).toBe(ErrorCode.PASSWORD_CHANGE_REQUIRED);
    const weak = await post(`${n1.url}/account/password`, { currentPassword: oneTime, newPassword: oneTime }, { cookie: first.cookie! });
    expect(weak.json.error.code).toBe(ErrorCode.WEAK_PASSWORD);
    const chosen = "a fresh passphrase 7";
    const changed = await post(`${n1.url}/account/password`, { currentPassword: oneTime, newPassword: chosen }, { cookie: first.cookie! });
    expect(changed.status).toBe(200);
    expect(await refusal(n2, first.cookie!)).toBe("connected");
    expect((await login(n1, caio, oneTime)).status).toBe(401);
    expect((await login(n1, caio, chosen)).json).toEqual({ ok: true, username: caio });

    // A password the operator chooses, read from stdin (never on the command line), checked like any.
    const weakGiven = await runAdminWithStdin(["users", "reset-password", caio, "--password-stdin"], "12345678\n");
    expect(weakGiven.code).toBe(1);
    expect(weakGiven.stderr).toMatch(/sequential|common/);
    expect((await login(n1, caio, chosen)).status).toBe(200); // nothing changed
    const given = await runAdminWithStdin(["users", "reset-password", caio, "--password-stdin"], "operator chose this 9\n");
    expect(given.stdout).toContain(`${caio}'s password is set; they must change it at their next login`);
    expect((await login(n2, caio, "operator chose this 9")).json.mustChangePassword).toBe(true);
  });

  it("sessions revoke ends one session by the tag `users show` lists, or all of them", async () => {
    const dora = newUsername("dora");
    const cookieA = await registerAndLogin(n1, dora);
    const cookieB = (await login(n2, dora)).cookie!;
    const [a, b] = [await watched(n1, cookieA), await watched(n2, cookieB)];
    const tags = [...(await admin("users", "show", dora)).stdout.matchAll(/([A-Za-z0-9_-]{10}) \(login/g)].map((match) => match[1]!);
    expect(tags).toHaveLength(2);
    const one = await admin("sessions", "revoke", dora, tags[0]!);
    expect(one.stdout).toContain(`1 session(s) of ${dora} ended`);
    await eventually(() => a.closed() || b.closed(), 5000, "one socket closed");
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect([a.closed(), b.closed()].filter(Boolean)).toHaveLength(1);
    const [gone, kept] = a.closed() ? [a, b] : [b, a];
    expect(gone.signedOut).toEqual([{ reason: "sessions_revoked" }]);
    expect(kept.signedOut).toEqual([]);
    expect((await admin("sessions", "revoke", dora, "AAAAAAAAAA")).code).toBe(1);
    expect((await admin("sessions", "revoke", dora)).stdout).toContain(`1 session(s) of ${dora} ended`);
    await eventually(() => kept.closed(), 5000, "the other socket closed");
  });

  it("rooms list, show and delete: the members on both nodes see the room go", async () => {
    const owner = newUsername("own");
    const member = newUsername("mem");
    const ownerSocket = (await watched(n1, await registerAndLogin(n1, owner))).socket;
    const memberSocket = (await watched(n2, await registerAndLogin(n2, member))).socket;
    const name = `cofre ${owner}`;
    const room = (await request(ownerSocket, "create_room", { name, password: "abacaxi42" })).room as RoomSummary;
    await request(ownerSocket, "join_room", { roomId: room.id, password: "abacaxi42" });
    expect((await request(memberSocket, "join_room", { roomId: room.id, password: "abacaxi42" })).ok).toBe(true);
    const deleted = [record(ownerSocket, "room_deleted"), record(memberSocket, "room_deleted")];

    expect((await admin("rooms", "list", `cofre ${owner}`)).stdout).toMatch(new RegExp(`^🔒 ${name} +${room.id}  owner ${owner}  2 member\\(s\\)$`, "m"));
    const shown = await admin("rooms", "show", name.toUpperCase());
    expect(shown.stdout).toContain(`owner    ${owner}`);
    expect(shown.stdout).toMatch(new RegExp(`members  (${owner}, ${member}|${member}, ${owner})`));
    expect((await admin("rooms", "delete", name)).stdout).toContain(`room ${name} (${room.id}) is deleted`);
    await eventually(() => deleted.every((seen) => seen.length === 1), 5000, "room_deleted on both nodes");
    expect(deleted[1]![0]).toEqual({ roomId: room.id, name });
    expect((await request(memberSocket, "join_room", { roomId: room.id, password: "abacaxi42" })).error.code).toBe(ErrorCode.ROOM_NOT_FOUND);
    expect((await admin("rooms", "show", room.id)).code).toBe(1);
    expect((await admin("rooms", "delete", room.id)).code).toBe(1);
    expect((await admin("audit", "2")).stdout).toMatch(/delete-room .* unknown_room[\s\S]*delete-room .* done/);
  });

  it("users delete: owned rooms go, the user leaves the others (a private room's key changes), conversations go for both; the name is free", async () => {
    const eva = newUsername("eva");
    const bob = newUsername("bob");
    const carl = newUsername("carl");
    const evaOpen = await watched(n1, await registerAndLogin(n1, eva));
    const bobSocket = (await watched(n2, await registerAndLogin(n2, bob))).socket;
    const carlSocket = (await watched(n1, await registerAndLogin(n1, carl))).socket;
    const evaRoom = (await request(evaOpen.socket, "create_room", { name: `sala ${eva}` })).room as RoomSummary;
    await request(evaOpen.socket, "join_room", { roomId: evaRoom.id });
    await request(bobSocket, "join_room", { roomId: evaRoom.id });
    const bobRoom = (await request(bobSocket, "create_room", { name: `privada ${bob}`, password: "senha1234" })).room as RoomSummary;
    const joined = await request(carlSocket, "join_room", { roomId: bobRoom.id, password: "senha1234" });
    await request(evaOpen.socket, "join_room", { roomId: bobRoom.id, password: "senha1234" });
    expect((await request(evaOpen.socket, "open_conversation", { with: bob })).ok).toBe(true);
    expect((await request(bobSocket, "conversations", {})).conversations).toEqual([]); // listed for the opener only until a whisper
    const bobDeleted = record(bobSocket, "room_deleted");
    const carlLeft = record(carlSocket, "member_left");
    const carlKeys = record<{ roomId: string; key: RoomKey }>(carlSocket, "room_key");

    const result = await admin("users", "delete", eva);
    expect(result.code).toBe(0);
    // Going offline (her socket closed by the delete) is not leaving: the delete takes her out.
    expect(result.stdout).toMatch(new RegExp(`${eva} is deleted: 1 owned room\\(s\\) deleted, left 1 room\\(s\\), 1 conversation\\(s\\) deleted`));
    await eventually(() => evaOpen.closed(), 5000, "eva's socket closed");
    expect(evaOpen.signedOut).toEqual([{ reason: "deleted" }]);
    await eventually(() => bobDeleted.length === 1 && carlLeft.length === 1 && carlKeys.length === 1, 5000, "the others told");
    expect(bobDeleted[0]).toEqual({ roomId: evaRoom.id, name: `sala ${eva}` });
    expect(carlLeft[0]).toEqual({ roomId: bobRoom.id, username: eva, reason: "left" });
    expect(carlKeys[0]!.key.id).toBe(joined.key.id + 1);
    expect((await request(carlSocket, "open_conversation", { with: eva })).error.code).toBe(ErrorCode.USER_NOT_FOUND);
    expect((await login(n2, eva)).status).toBe(401);
    expect((await admin("users", "show", eva)).code).toBe(1);
    // The name may be registered again, by anyone.
    expect((await post(`${n2.url}/register`, { username: eva, password: "another passphrase 3" })).status).toBe(201);
  });

  it("stats shows accounts, users online, rooms and each live node", async () => {
    // A node counts as live while its latest health sample (one a second) is fresh: retried, as a
    // loaded test machine may delay one.
    let stats = await admin("stats");
    for (let tries = 0; tries < 5 && !/^nodes +2 live$/m.test(stats.stdout); tries++) stats = await admin("stats");
    expect(stats.code).toBe(0);
    expect(stats.stdout).toMatch(/^accounts \d+$/m);
    expect(stats.stdout).toMatch(/^online +\d+$/m);
    expect(stats.stdout).toMatch(/^nodes +2 live$/m);
    for (const node of [n1, n2]) expect(stats.stdout).toContain(node.id);
  });

  it("grant-admin and revoke-admin under `users`, refused for an unknown user (exit 1), audited", async () => {
    const fia = newUsername("fia");
    await registerAndLogin(n1, fia);
    expect((await admin("users", "grant-admin", fia)).stdout).toContain(`${fia} is now an admin`);
    expect((await admin("users", "show", fia)).stdout).toMatch(/\[admin\]/);
    expect((await admin("users", "revoke-admin", fia)).stdout).toContain(`${fia} is no longer an admin`);
    const unknown = await admin("users", "grant-admin", "nobody-at-all");
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("no such user: nobody-at-all");
    expect((await admin("audit", "1")).stdout).toMatch(/grant-admin nobody-at-all {2}unknown_user/);
  });
});

/** `npm run admin` with `input` on its stdin. */
async function runAdminWithStdin(args: string[], input: string) {
  return runAdmin(args, env, 60_000, input);
}
