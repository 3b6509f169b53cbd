/**
 * Accounts over HTTP against a 2-node cluster on the real redis-server: registration rules, login,
 * sessions, throttling shared across nodes, argon2id storage and rehash, origin and cookie policy.
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ErrorCode } from "@sala/protocol";
import {
  connect,
  expectNoSessionRefused,
  newUsername,
  PASSWORD,
  post,
  registerAndLogin,
  sleep,
  startCluster,
  startNode,
  TEST_ORIGIN,
  waitFor,
  type TestCluster,
  type TestNode,
} from "./support/cluster.js";

/** Generous IP budgets for the shared cluster: every request of this file comes from 127.0.0.1. */
const ROOMY = { REGISTRATIONS_PER_IP: "1000", LOGIN_MAX_FAILS_PER_IP: "1000" };

interface RawResponse {
  status: number;
  text: string;
  json: any;
  headers: Headers;
  setCookies: string[];
}

/** A request with a raw body and headers of our choosing (post() always sends JSON). */
async function raw(url: string, init: { method?: string; body?: string; headers?: Record<string, string> } = {}): Promise<RawResponse> {
  const response = await fetch(url, { method: init.method ?? "POST", body: init.body, headers: init.headers });
  const text = await response.text();
  let json: any = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  return { status: response.status, text, json, headers: response.headers, setCookies: response.headers.getSetCookie() };
}

async function sessionOf(node: TestNode, cookie: string): Promise<{ status: number; json: any }> {
  const response = await fetch(`${node.url}/session`, { headers: { cookie } });
  return { status: response.status, json: await response.json() };
}

async function register(node: TestNode, username: string, password = PASSWORD, headers: Record<string, string> = {}) {
  return post(`${node.url}/register`, { username, password }, headers);
}

async function login(node: TestNode, username: string, password = PASSWORD, headers: Record<string, string> = {}) {
  return post(`${node.url}/login`, { username, password }, headers);
}

/** The account does not exist: logging in with the password it would have had is refused. */
async function expectNoAccount(node: TestNode, username: string, password = PASSWORD): Promise<void> {
  const attempt = await login(node, username, password);
  expect(attempt.status, `login as ${username} should fail`).toBe(401);
  expect(attempt.json.error.code).toBe(ErrorCode.INVALID_CREDENTIALS);
  expect(attempt.cookie).toBeNull();
}

function expectBadRequest(response: { status: number; json: any }): void {
  expect(response.status).toBeGreaterThanOrEqual(400);
  expect(response.status).toBeLessThan(500);
  expect(response.json).toMatchObject({ ok: false, error: { code: ErrorCode.BAD_REQUEST } });
  expect(typeof response.json.error.message).toBe("string");
}

function expectRateLimited(response: { status: number; json: any; headers?: Headers }, windowSec: number): void {
  expect(response.status).toBe(429);
  expect(response.json.ok).toBe(false);
  expect(response.json.error.code).toBe(ErrorCode.RATE_LIMITED);
  const retryAfterMs = response.json.error.retryAfterMs;
  expect(typeof retryAfterMs).toBe("number");
  expect(retryAfterMs).toBeGreaterThan(0);
  expect(retryAfterMs).toBeLessThanOrEqual(windowSec * 1000);
  if (response.headers) expect(response.headers.get("retry-after")).toBe(String(Math.ceil(retryAfterMs / 1000)));
}

/** POST with JSON, keeping the response headers (post() drops them). */
async function postWithHeaders(url: string, body: unknown, headers: Record<string, string> = {}) {
  return raw(url, { body: JSON.stringify(body), headers: { "content-type": "application/json", ...headers } });
}

const userKey = (cluster: TestCluster, username: string) => `${cluster.prefix}:user:${username.toLowerCase()}`;

let cluster: TestCluster;
let n1: TestNode;
let n2: TestNode;
let redis: Redis;

beforeAll(async () => {
  cluster = await startCluster(2, inject("redisUrl"), ROOMY);
  [n1, n2] = cluster.nodes as [TestNode, TestNode];
  redis = new Redis(inject("redisUrl"));
});
afterAll(async () => {
  await redis?.quit();
  await cluster?.close();
});

describe("registration and login across nodes", () => {
  it("registers on node 1, logs in on node 2, and the session works on node 1", async () => {
    const username = newUsername("Cross");
    const registered = await register(n1, username);
    expect(registered.status).toBe(201);
    expect(registered.json).toEqual({ ok: true, username });
    expect(registered.cookie).toBeNull(); // registering does not log in

    const loggedIn = await login(n2, username);
    expect(loggedIn.status).toBe(200);
    expect(loggedIn.json).toEqual({ ok: true, username });
    expect(loggedIn.cookie).toMatch(/^sala\.sid=/);

    expect(await sessionOf(n1, loggedIn.cookie!)).toEqual({ status: 200, json: { ok: true, username } });
    expect(await sessionOf(n2, loggedIn.cookie!)).toEqual({ status: 200, json: { ok: true, username } });
  });

  it("answers /session without a cookie, or with a forged one, with 401 UNAUTHORIZED", async () => {
    const none = await fetch(`${n1.url}/session`);
    expect(none.status).toBe(401);
    expect(await none.json()).toMatchObject({ ok: false, error: { code: ErrorCode.UNAUTHORIZED } });
    const forged = await sessionOf(n2, "sala.sid=s%3Aforged-session-id.invalidsignature");
    expect(forged.status).toBe(401);
    expect(forged.json.error.code).toBe(ErrorCode.UNAUTHORIZED);
  });
});

describe("username and password rules", () => {
  it.each([
    ["too short", "ab"],
    ["too long", "a".repeat(25)],
    ["a space", "bad name"],
    ["a leading underscore", "_leading"],
    ["a slash", "a/b/c"],
    ["non-ASCII letters", "naïve1"],
    ["a colon (Redis key separator)", "ana:rooms"],
    ["only spaces", "      "],
  ])("rejects a username with %s: 400 INVALID_USERNAME, nothing created", async (_what, username) => {
    const response = await register(n1, username);
    expect(response.status).toBe(400);
    expect(response.json).toMatchObject({ ok: false, error: { code: ErrorCode.INVALID_USERNAME } });
    expect(await redis.exists(userKey(cluster, username.trim()))).toBe(0);
    await expectNoAccount(n2, username);
  });

  it("refuses a username taken case-insensitively, on either node, and keeps the first account", async () => {
    const base = newUsername("Ana");
    expect((await register(n1, base)).status).toBe(201);
    for (const [node, variant] of [
      [n1, base.toUpperCase()],
      [n2, base.toLowerCase()],
      [n2, base],
    ] as const) {
      const again = await register(node, variant, "another password 42");
      expect(again.status).toBe(409);
      expect(again.json).toMatchObject({ ok: false, error: { code: ErrorCode.USERNAME_TAKEN } });
    }
    // Login is case-insensitive and answers with the name as registered; the first password stays.
    const upper = await login(n2, base.toUpperCase());
    expect(upper.status).toBe(200);
    expect(upper.json.username).toBe(base);
    const hijack = await login(n1, base, "another password 42");
    expect(hijack.status).toBe(401);
  });

  it.each([
    ["7 characters", "short12"],
    ["129 characters", "p".repeat(129)],
  ])("rejects a password of %s: 400 WEAK_PASSWORD, nothing created", async (_what, password) => {
    const username = newUsername("weak");
    const response = await register(n2, username, password);
    expect(response.status).toBe(400);
    expect(response.json).toMatchObject({ ok: false, error: { code: ErrorCode.WEAK_PASSWORD } });
    expect(await redis.exists(userKey(cluster, username))).toBe(0);
    await expectNoAccount(n1, username, password);
  });

  // Issue 17, item 9 (b).
  it.each([
    ["a most common password", "password", /common/],
    ["a repeated character", "aaaaaaaa", /repeated or sequential/],
    ["the username and digits", "{user}12345", /username/],
    ["the username in another case", "my {USER} pass", /username/],
    ["a common password in capitals", "ILOVEYOU", /common/],
  ])("refuses %s as a password: 400 WEAK_PASSWORD with the reason, nothing created", async (_what, template, why) => {
    const username = newUsername("ana");
    const password = template.replace("{user}", username).replace("{USER}", username.toUpperCase());
    const response = await register(n1, username, password);
    expect(response.status).toBe(400);
    expect(response.json).toEqual({ ok: false, error: { code: ErrorCode.WEAK_PASSWORD, message: expect.stringMatching(why) } });
    expect(await redis.exists(userKey(cluster, username))).toBe(0);
    // A strong one is accepted for the same name.
    expect((await register(n2, username, "violet tram 93")).status).toBe(201);
  });

  // Issue 17, item 9 (d): usernames are ASCII, so Cyrillic or fullwidth look-alikes never get in
  // (INVALID_USERNAME); the ASCII ones that still look alike are refused as NAME_CONFUSABLE.
  it("refuses a username that looks like an existing one: 409 NAME_CONFUSABLE, nothing created", async () => {
    const stem = newUsername("m").replace(/[01]/g, "7");
    const existing = `${stem}bill`;
    expect((await register(n1, existing)).status).toBe(201);
    for (const lookalike of [`${stem}bi11`, `${stem}biIl`, existing.replace(/^m/, "rn")]) {
      const response = await register(n2, lookalike);
      expect(response.status, lookalike).toBe(409);
      expect(response.json).toEqual({ ok: false, error: { code: ErrorCode.NAME_CONFUSABLE, message: expect.stringContaining(existing) } });
      expect(await redis.exists(userKey(cluster, lookalike))).toBe(0);
      await expectNoAccount(n1, lookalike);
    }
    for (const foreign of [existing.replace("i", "і"), existing.replace(/./g, (c) => String.fromCodePoint(c.codePointAt(0)! + 0xfee0))]) {
      expect((await register(n1, foreign)).json.error.code).toBe(ErrorCode.INVALID_USERNAME);
    }
    expect((await register(n2, existing.toUpperCase())).json.error.code).toBe(ErrorCode.USERNAME_TAKEN);
    expect((await register(n2, `${stem}billy`)).status).toBe(201);
  });

  it("accepts the boundary lengths (3- and 24-character names, 8- and 128-character passwords)", async () => {
    const short = `z${(process.pid % 90) + 10}`.slice(0, 3);
    const long = newUsername("b").padEnd(24, "9").slice(0, 24);
    // The cluster's key prefix is fresh, so even a 3-character name is free here.
    const eight = "fog-tr4m";
    const longest = "tram in the fog ".repeat(8);
    expect((await register(n1, short, eight)).status).toBe(201);
    expect((await register(n2, long, longest)).status).toBe(201);
    expect((await login(n2, short, eight)).status).toBe(200);
    expect((await login(n1, long, longest)).status).toBe(200);
  });
});

describe("malformed bodies", () => {
  const json = (body: unknown) => ({ body: JSON.stringify(body), headers: { "content-type": "application/json" } });

  it.each([
    ["an unknown field", 400, (u: string) => json({ username: u, password: PASSWORD, admin: true })],
    ["a numeric username", 400, (_u: string) => json({ username: 12345, password: PASSWORD })],
    ["a numeric password", 400, (u: string) => json({ username: u, password: 12345678 })],
    ["an array password", 400, (u: string) => json({ username: u, password: [PASSWORD] })],
    ["a null username", 400, (_u: string) => json({ username: null, password: PASSWORD })],
    ["an object username", 400, (u: string) => json({ username: { $gt: u }, password: PASSWORD })],
    ["a missing password", 400, (u: string) => json({ username: u })],
    ["a missing username", 400, (_u: string) => json({ password: PASSWORD })],
    ["an empty object", 400, (_u: string) => json({})],
    ["a JSON array body", 400, (u: string) => json([u, PASSWORD])],
    ["a JSON string body", 400, (u: string) => json(u)],
    ["an empty password", 400, (u: string) => json({ username: u, password: "" })],
    ["an empty JSON body", 400, (_u: string) => ({ body: "", headers: { "content-type": "application/json" } })],
    ["invalid JSON", 400, (u: string) => ({ body: `{"username":"${u}","password":`, headers: { "content-type": "application/json" } })],
    [
      "an own __proto__ key",
      400,
      (u: string) => ({ body: `{"username":"${u}","password":"${PASSWORD}","__proto__":{"admin":true}}`, headers: { "content-type": "application/json" } }),
    ],
    [
      "a constructor.prototype key",
      400,
      (u: string) => ({
        body: `{"username":"${u}","password":"${PASSWORD}","constructor":{"prototype":{"admin":true}}}`,
        headers: { "content-type": "application/json" },
      }),
    ],
    ["a text/plain body", 400, (u: string) => ({ body: JSON.stringify({ username: u, password: PASSWORD }), headers: { "content-type": "text/plain" } })],
    [
      "a form-encoded body",
      415,
      (u: string) => ({ body: `username=${u}&password=${encodeURIComponent(PASSWORD)}`, headers: { "content-type": "application/x-www-form-urlencoded" } }),
    ],
    ["no content type", 400, (u: string) => ({ body: JSON.stringify({ username: u, password: PASSWORD }), headers: {} as Record<string, string> })],
    ["an oversize body (64 KiB)", 413, (u: string) => json({ username: u, password: PASSWORD, padding: "x".repeat(64 * 1024) })],
    ["an oversize password (20 KB)", 413, (u: string) => json({ username: u, password: "p".repeat(20_000) })],
  ])("/register with %s: %i BAD_REQUEST and no account", async (_what, status, make) => {
    const username = newUsername("body");
    const request = make(username);
    const response = await raw(`${n1.url}/register`, request);
    expectBadRequest(response);
    expect(response.status).toBe(status);
    expect(response.json).toEqual({ ok: false, error: { code: ErrorCode.BAD_REQUEST, message: expect.any(String) } });
    expect(await redis.exists(userKey(cluster, username))).toBe(0);
    await expectNoAccount(n2, username);
    expect(Object.prototype).not.toHaveProperty("admin");
  });

  it("answers the same malformed bodies on /login with BAD_REQUEST and no cookie", async () => {
    const username = newUsername("lbody");
    expect((await register(n1, username)).status).toBe(201);
    const bodies: Array<{ body: string; headers: Record<string, string> }> = [
      { body: JSON.stringify({ username, password: PASSWORD, remember: true }), headers: { "content-type": "application/json" } },
      { body: JSON.stringify({ username: [username], password: PASSWORD }), headers: { "content-type": "application/json" } },
      { body: JSON.stringify({ username }), headers: { "content-type": "application/json" } },
      { body: JSON.stringify({ username, password: PASSWORD }), headers: { "content-type": "text/plain" } },
      { body: JSON.stringify({ username, password: PASSWORD, pad: "x".repeat(20_000) }), headers: { "content-type": "application/json" } },
    ];
    for (const request of bodies) {
      const response = await raw(`${n2.url}/login`, request);
      expectBadRequest(response);
      expect(response.setCookies).toEqual([]);
    }
    // The right credentials, well formed, still work: none of the above counted as a login.
    expect((await login(n2, username)).status).toBe(200);
  });
});

describe("failed logins", () => {
  it("answers an unknown user and a wrong password with the identical 401 body", async () => {
    const username = newUsername("known");
    expect((await register(n1, username)).status).toBe(201);
    const unknown = await raw(`${n1.url}/login`, {
      body: JSON.stringify({ username: newUsername("ghost"), password: PASSWORD }),
      headers: { "content-type": "application/json" },
    });
    const wrong = await raw(`${n2.url}/login`, {
      body: JSON.stringify({ username, password: "not the password" }),
      headers: { "content-type": "application/json" },
    });
    expect(unknown.status).toBe(401);
    expect(wrong.status).toBe(401);
    expect(unknown.json).toEqual({ ok: false, error: { code: ErrorCode.INVALID_CREDENTIALS, message: expect.any(String) } });
    expect(wrong.text).toBe(unknown.text);
    expect(unknown.setCookies).toEqual([]);
    expect(wrong.setCookies).toEqual([]);
  });
});

describe("sessions", () => {
  it("issues a fresh session id at every login and destroys a session presented at login", async () => {
    const username = newUsername("regen");
    expect((await register(n1, username)).status).toBe(201);
    const first = await login(n1, username);
    const second = await login(n2, username);
    expect(first.cookie).toBeTruthy();
    expect(second.cookie).toBeTruthy();
    expect(second.cookie).not.toBe(first.cookie);
    // Two independent logins (two devices) both stay valid.
    expect((await sessionOf(n2, first.cookie!)).status).toBe(200);
    expect((await sessionOf(n1, second.cookie!)).status).toBe(200);

    // Logging in again with a session cookie (a fixed session) gets a new id; the old one is gone.
    const third = await login(n2, username, PASSWORD, { cookie: first.cookie! });
    expect(third.status).toBe(200);
    expect(third.cookie).toBeTruthy();
    expect(third.cookie).not.toBe(first.cookie);
    expect(third.cookie).not.toBe(second.cookie);
    expect((await sessionOf(n1, third.cookie!)).json).toEqual({ ok: true, username });
    expect((await sessionOf(n1, first.cookie!)).status).toBe(401);
    expect((await sessionOf(n2, first.cookie!)).status).toBe(401);
  });

  it("destroys the session at logout on every node and disconnects its sockets", async () => {
    const username = newUsername("logout");
    const cookie = await registerAndLogin(n1, username, n2);
    const other = await login(n1, username); // another device of the same user
    const socket = await connect(n1, cookie);
    const disconnected = waitFor(socket, "disconnect");
    try {
      const response = await raw(`${n2.url}/logout`, { headers: { cookie, origin: TEST_ORIGIN } });
      expect(response.status).toBe(200);
      expect(response.json).toEqual({ ok: true });
      const cleared = response.setCookies.find((line) => line.startsWith("sala.sid="));
      expect(cleared).toMatch(/^sala\.sid=;/);
      expect(cleared).toMatch(/Expires=Thu, 01 Jan 1970/);

      for (const node of [n1, n2]) {
        const after = await sessionOf(node, cookie);
        expect(after.status).toBe(401);
        expect(after.json.error.code).toBe(ErrorCode.UNAUTHORIZED);
      }
      await disconnected;
      expect(socket.connected).toBe(false);
      await expectNoSessionRefused(n2, cookie);
      // Only that session ended: the other device is still logged in.
      expect((await sessionOf(n2, other.cookie!)).json).toEqual({ ok: true, username });
    } finally {
      socket.close();
    }
  });

  it("sets the session cookie HttpOnly, SameSite=Lax, Path=/ (and not Secure without COOKIE_SECURE)", async () => {
    const username = newUsername("cookie");
    expect((await register(n2, username)).status).toBe(201);
    const response = await postWithHeaders(`${n1.url}/login`, { username, password: PASSWORD });
    expect(response.status).toBe(200);
    expect(response.setCookies).toHaveLength(1);
    const header = response.setCookies[0]!;
    const attributes = header.split(";").map((part) => part.trim());
    expect(attributes[0]).toMatch(/^sala\.sid=s%3A[^;]+$/);
    expect(attributes).toContain("HttpOnly");
    expect(attributes).toContain("SameSite=Lax");
    expect(attributes).toContain("Path=/");
    expect(attributes.some((part) => /^Expires=/i.test(part))).toBe(true);
    expect(attributes.map((part) => part.toLowerCase())).not.toContain("secure");
  });
});

describe("origin policy", () => {
  const EVIL = "http://evil.example";

  it("refuses state-changing requests from a foreign Origin with 403 BAD_ORIGIN", async () => {
    const username = newUsername("evil");
    const refused = await register(n1, username, PASSWORD, { origin: EVIL });
    expect(refused.status).toBe(403);
    expect(refused.json).toEqual({ ok: false, error: { code: ErrorCode.BAD_ORIGIN, message: expect.any(String) } });
    expect(await redis.exists(userKey(cluster, username))).toBe(0);
    await expectNoAccount(n2, username);

    // The allowed origin may register; a foreign one may not log in even with the right password.
    expect((await register(n2, username, PASSWORD, { origin: TEST_ORIGIN })).status).toBe(201);
    const foreignLogin = await login(n1, username, PASSWORD, { origin: EVIL });
    expect(foreignLogin.status).toBe(403);
    expect(foreignLogin.json.error.code).toBe(ErrorCode.BAD_ORIGIN);
    expect(foreignLogin.cookie).toBeNull();

    // A cross-site logout (CSRF) does not end the session.
    const cookie = (await login(n1, username, PASSWORD, { origin: TEST_ORIGIN })).cookie!;
    const foreignLogout = await raw(`${n2.url}/logout`, { headers: { cookie, origin: EVIL } });
    expect(foreignLogout.status).toBe(403);
    expect(foreignLogout.json.error.code).toBe(ErrorCode.BAD_ORIGIN);
    expect((await sessionOf(n1, cookie)).status).toBe(200);
  });

  it("refuses a socket handshake from a foreign Origin", async () => {
    const cookie = await registerAndLogin(n1, newUsername("evilws"));
    await expect(connect(n2, cookie, EVIL)).rejects.toThrow();
    const socket = await connect(n2, cookie, TEST_ORIGIN);
    socket.close();
  });
});

describe("health", () => {
  it("answers /healthz and /readyz with 200 {ok:true} naming the node", async () => {
    for (const node of cluster.nodes) {
      for (const path of ["/healthz", "/readyz"]) {
        const response = await fetch(`${node.url}${path}`);
        expect(response.status).toBe(200);
        expect(await response.json()).toEqual({ ok: true, node: node.id });
      }
    }
  });
});

describe("password storage", () => {
  it("stores argon2id hashes with the default parameters (m=19456, t=2, p=1), never the password", async () => {
    const names = [newUsername("hashA"), newUsername("hashB")];
    expect((await register(n1, names[0]!)).status).toBe(201);
    expect((await register(n2, names[1]!, "a different secret")).status).toBe(201);
    const hashes = await Promise.all(names.map((name) => redis.hget(userKey(cluster, name), "passwordHash")));
    for (const hash of hashes) {
      expect(hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/);
      expect(hash).not.toContain(PASSWORD);
      expect(hash).not.toContain("a different secret");
    }
    expect(hashes[0]).not.toBe(hashes[1]);
    // Same password, two accounts: salted, so different hashes.
    const twin = newUsername("hashC");
    expect((await register(n1, twin)).status).toBe(201);
    expect(await redis.hget(userKey(cluster, twin), "passwordHash")).not.toBe(hashes[0]);

    // Every account hash stored by this file's cluster so far obeys the same rules.
    const keys: string[] = [];
    let cursor = "0";
    do {
      const [next, batch] = await redis.scan(cursor, "MATCH", `${cluster.prefix}:user:*`, "COUNT", 500);
      cursor = next;
      // The account records themselves (`user:<name>`), not their sets (`user:<name>:rooms`, `:sessions`).
      keys.push(...batch.filter((key) => !key.slice(`${cluster.prefix}:user:`.length).includes(":")));
    } while (cursor !== "0");
    expect(keys.length).toBeGreaterThan(5);
    for (const key of keys) {
      const hash = await redis.hget(key, "passwordHash");
      expect(hash, key).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
      expect(hash).not.toBe(PASSWORD);
    }
  });

  it("upgrades the stored hash at login when the node's argon2 parameters change", async () => {
    const username = newUsername("Rehash");
    expect((await register(n1, username)).status).toBe(201);
    const key = userKey(cluster, username);
    const before = await redis.hget(key, "passwordHash");
    expect(before).toContain("m=19456,t=2,p=1");

    const stronger = await startNode(`${cluster.prefix}-t3`, inject("redisUrl"), cluster.prefix, { ...ROOMY, ARGON2_TIME_COST: "3" });
    try {
      // A failed login changes nothing.
      expect((await login(stronger, username, "wrong password!")).status).toBe(401);
      expect(await redis.hget(key, "passwordHash")).toBe(before);

      const upgraded = await login(stronger, username);
      expect(upgraded.status).toBe(200);
      const after = await redis.hget(key, "passwordHash");
      expect(after).toMatch(/^\$argon2id\$v=19\$m=19456,t=3,p=1\$/);
      expect(after).not.toBe(before);
      expect(after).not.toContain(PASSWORD);

      // The new hash still authenticates, and a login with matching parameters does not rehash.
      expect((await login(stronger, username)).status).toBe(200);
      expect(await redis.hget(key, "passwordHash")).toBe(after);
      expect((await login(stronger, username, "wrong password!")).status).toBe(401);
      // The session made on the upgraded node works cluster-wide.
      expect((await sessionOf(n2, upgraded.cookie!)).json).toEqual({ ok: true, username });
    } finally {
      await stronger.node.close();
    }
  });
});

/**
 * Issue 17, item 9 (a): failures count per (account, address), per address, and per account with a
 * far higher ceiling that stops only addresses that failed on it, plus a progressive delay — so an
 * attacker elsewhere can neither guess on nor lock out the owner. TRUST_PROXY=1: X-Forwarded-For
 * gives each request the client address the test chooses (documentation addresses, never dialled).
 */
const from = (address: string) => ({ "x-forwarded-for": address });
const A = from("203.0.113.10");
const B = from("198.51.100.20");

describe("login throttling per account and address (defaults: 10 per pair, 1000 per account, delays on)", () => {
  let guarded: TestCluster;
  let a: TestNode;
  let b: TestNode;
  beforeAll(async () => {
    guarded = await startCluster(2, inject("redisUrl"), { TRUST_PROXY: "1", REGISTRATIONS_PER_IP: "1000", LOGIN_MAX_FAILS_PER_IP: "1000" });
    [a, b] = guarded.nodes as [TestNode, TestNode];
  });
  afterAll(() => guarded?.close());

  it("after 50 failures for ana from address A, ana logs in at once from address B while A stays throttled", async () => {
    const ana = newUsername("ana");
    expect((await register(a, ana)).status).toBe(201);
    const statuses: number[] = [];
    for (let i = 0; i < 50; i++) {
      const node = i % 2 ? a : b; // both nodes: the counts are shared
      const answer = await postWithHeaders(`${node.url}/login`, { username: i % 3 ? ana : ana.toUpperCase(), password: `guess ${i}` }, A);
      statuses.push(answer.status);
      if (answer.status === 429) expectRateLimited(answer, 900);
    }
    expect(statuses.every((status) => status === 401 || status === 429), statuses.join(",")).toBe(true);
    expect(statuses.filter((status) => status === 401).length, statuses.join(",")).toBeLessThanOrEqual(10);
    expect(statuses.at(-1)).toBe(429);

    const started = Date.now();
    const owner = await postWithHeaders(`${b.url}/login`, { username: ana, password: PASSWORD }, B);
    expect(owner.status).toBe(200);
    expect(owner.json).toEqual({ ok: true, username: ana });
    console.info(`[measure] owner's login from a clean address during the attack: ${Date.now() - started} ms`);
    // The attacker's address is still refused, even with the right password; the password is not checked.
    const attacker = await postWithHeaders(`${a.url}/login`, { username: ana, password: PASSWORD }, A);
    expectRateLimited(attacker, 900);
    expect(attacker.setCookies).toEqual([]);
  });

  it("delays an address that failed on an account progressively, and never an address without failures", async () => {
    const bia = newUsername("bia");
    expect((await register(b, bia)).status).toBe(201);
    // The address's first 3 failures on the account cost nothing more than a 401 …
    for (let i = 0; i < 3; i++) expect((await login(a, bia, `wrong ${i}`, A)).status).toBe(401);
    // … the 4th makes A wait 1 s before its next try on bia, the right password included.
    expect((await login(b, bia, "wrong 3", A)).status).toBe(401);
    const waiting = await postWithHeaders(`${a.url}/login`, { username: bia, password: PASSWORD }, A);
    expectRateLimited(waiting, 1);
    // Another address, without failures, is not delayed.
    expect((await login(b, bia, PASSWORD, B)).status).toBe(200);
    // Once the wait is over A may try again; its next failure waits longer (2 s).
    await sleep(waiting.json.error.retryAfterMs + 50);
    expect((await login(a, bia, "wrong 4", A)).status).toBe(401);
    const longer = await postWithHeaders(`${b.url}/login`, { username: bia, password: PASSWORD }, A);
    expectRateLimited(longer, 2);
    expect(longer.json.error.retryAfterMs).toBeGreaterThan(1000);
  });
});

/**
 * Two nodes trusting X-Forwarded-For, with an account ceiling of 5 and no delays, so that tests
 * see the ceiling's and the pair limit's answers alone; `env` on top.
 */
function throttledCluster(env: Record<string, string>) {
  const nodes = { a: undefined as unknown as TestNode, b: undefined as unknown as TestNode };
  let limited: TestCluster;
  beforeAll(async () => {
    limited = await startCluster(2, inject("redisUrl"), {
      TRUST_PROXY: "1",
      LOGIN_MAX_FAILS_PER_USER: "5",
      LOGIN_DELAY_MAX_SEC: "0",
      LOGIN_MAX_FAILS_PER_IP: "1000",
      REGISTRATIONS_PER_IP: "1000",
      ...env,
    });
    [nodes.a, nodes.b] = limited.nodes as [TestNode, TestNode];
  });
  afterAll(() => limited?.close());
  return nodes;
}

describe("login throttling per account and address without delays (LOGIN_MAX_FAILS_PER_USER_IP=3, LOGIN_MAX_FAILS_PER_USER=5)", () => {
  const nodes = throttledCluster({ LOGIN_MAX_FAILS_PER_USER_IP: "3" });
  let a: TestNode;
  let b: TestNode;
  beforeAll(() => ({ a, b } = nodes));

  it("blocks the (account, address) pair on every node after 3 failures, even with the right password; not the account elsewhere", async () => {
    const username = newUsername("Victim");
    const bystander = newUsername("bystander");
    expect((await register(a, username)).status).toBe(201);
    expect((await register(b, bystander)).status).toBe(201);

    // Failures on node a, in varying case: they all count against the one account from A.
    for (const variant of [username, username.toUpperCase(), username.toLowerCase()]) {
      const failed = await login(a, variant, "wrong password 1", A);
      expect(failed.status).toBe(401);
      expect(failed.json.error.code).toBe(ErrorCode.INVALID_CREDENTIALS);
    }
    const blocked = await postWithHeaders(`${b.url}/login`, { username, password: PASSWORD }, A);
    expectRateLimited(blocked, 900);
    expect(blocked.setCookies).toEqual([]);
    expectRateLimited(await postWithHeaders(`${a.url}/login`, { username, password: PASSWORD }, A), 900);

    // Per pair: another account from the same address, and the same account from another address, log in.
    expect((await login(b, bystander, PASSWORD, A)).status).toBe(200);
    expect((await login(a, username, PASSWORD, B)).status).toBe(200);
  });

  it("counts an IPv6 client by its /64: fresh addresses in one /64 share the pair's limit", async () => {
    const username = newUsername("six");
    expect((await register(a, username)).status).toBe(201);
    for (let i = 1; i <= 3; i++) expect((await login(a, username, "wrong", from(`2001:db8:1:2::${i}`))).status).toBe(401);
    expectRateLimited(await postWithHeaders(`${b.url}/login`, { username, password: PASSWORD }, from("2001:db8:1:2:ffff::9")), 900);
    // Another /64 is another address.
    expect((await login(b, username, PASSWORD, from("2001:db8:1:3::1"))).status).toBe(200);
  });

  it("forgets a pair's earlier failures after its successful login", async () => {
    const username = newUsername("forgetful");
    expect((await register(b, username)).status).toBe(201);
    for (let i = 0; i < 2; i++) expect((await login(a, username, "wrong password 2", A)).status).toBe(401);
    expect((await login(b, username, PASSWORD, A)).status).toBe(200);
    for (let i = 0; i < 2; i++) expect((await login(b, username, "wrong password 3", A)).status).toBe(401);
    expect((await login(a, username, PASSWORD, A)).status).toBe(200);
  });

});

describe("login throttling past the account's ceiling (LOGIN_MAX_FAILS_PER_USER=5, 10 per pair, no delays)", () => {
  const nodes = throttledCluster({});
  let a: TestNode;
  let b: TestNode;
  beforeAll(() => ({ a, b } = nodes));

  it("past the account's ceiling, stops the addresses that failed on it more than twice, and only those", async () => {
    const username = newUsername("spread");
    expect((await register(a, username)).status).toBe(201);
    // A distributed guess: six addresses, three failures each (under the pair limit of 10).
    const attackers = Array.from({ length: 6 }, (_, i) => from(`203.0.113.${100 + i}`));
    for (let round = 0; round < 3; round++) {
      for (const [i, address] of attackers.entries()) expect((await login(i % 2 ? a : b, username, `spray ${round}${i}`, address)).status).toBe(401);
    }
    for (const address of attackers) expectRateLimited(await postWithHeaders(`${a.url}/login`, { username, password: PASSWORD }, address), 900);
    // The owner, at an address with no failure on the account, gets in.
    expect((await login(b, username, PASSWORD, from("192.0.2.77"))).status).toBe(200);
  });

  it("lets the owner in after a typo or two while attackers elsewhere are over the account's ceiling", async () => {
    const owner = newUsername("typo");
    expect((await register(a, owner)).status).toBe(201);
    // Six attacking addresses, one failure each: the account is over its ceiling (5).
    for (let i = 1; i <= 6; i++) expect((await login(i % 2 ? a : b, owner, `guess ${i}`, from(`203.0.113.${110 + i}`))).status).toBe(401);
    // The owner, at their own address, mistypes twice and still gets in; a third typo would not.
    for (let i = 0; i < 2; i++) expect((await login(b, owner, "my pasword", B)).status).toBe(401);
    expect((await login(a, owner, PASSWORD, B)).status).toBe(200);
  });
});

describe("login throttling per IP (LOGIN_MAX_FAILS_PER_IP=3)", () => {
  let limited: TestCluster;
  let a: TestNode;
  let b: TestNode;
  beforeAll(async () => {
    limited = await startCluster(2, inject("redisUrl"), { LOGIN_MAX_FAILS_PER_IP: "3", REGISTRATIONS_PER_IP: "1000" });
    [a, b] = limited.nodes as [TestNode, TestNode];
  });
  afterAll(() => limited?.close());

  it("blocks every login from the address after 3 failures across different usernames and nodes", async () => {
    const good = newUsername("innocent");
    const other = newUsername("other");
    expect((await register(a, good)).status).toBe(201);
    expect((await register(b, other)).status).toBe(201);
    expect((await login(a, newUsername("ghost"))).status).toBe(401);
    expect((await login(b, other, "wrong password 4")).status).toBe(401);
    expect((await login(a, newUsername("ghost"))).status).toBe(401);

    const blocked = await postWithHeaders(`${b.url}/login`, { username: good, password: PASSWORD });
    expectRateLimited(blocked, 900);
    expect(blocked.setCookies).toEqual([]);
    expectRateLimited(await postWithHeaders(`${a.url}/login`, { username: other, password: PASSWORD }), 900);
  });
});

describe("registrations per IP (REGISTRATIONS_PER_IP=2)", () => {
  let limited: TestCluster;
  let a: TestNode;
  let b: TestNode;
  beforeAll(async () => {
    limited = await startCluster(2, inject("redisUrl"), { REGISTRATIONS_PER_IP: "2" });
    [a, b] = limited.nodes as [TestNode, TestNode];
  });
  afterAll(() => limited?.close());

  it("allows 2 registrations from an address across nodes, then answers 429 and creates nothing", async () => {
    const first = newUsername("reg");
    const second = newUsername("reg");
    const third = newUsername("reg");
    expect((await register(a, first)).status).toBe(201);
    expect((await register(b, second)).status).toBe(201);
    const refused = await postWithHeaders(`${a.url}/register`, { username: third, password: PASSWORD });
    expectRateLimited(refused, 3600);
    expectRateLimited(await postWithHeaders(`${b.url}/register`, { username: third, password: PASSWORD }), 3600);
    expect(await redis.exists(`${limited.prefix}:user:${third.toLowerCase()}`)).toBe(0);
    await expectNoAccount(b, third);
    // The accounts made before the limit work.
    expect((await login(b, first)).status).toBe(200);
    expect((await login(a, second)).status).toBe(200);
  });
});

/**
 * The throttles must count attempts atomically: a burst of parallel guesses may not get more
 * password checks than the limit allows (otherwise the limit only slows down a sequential attacker).
 */
describe("throttles under concurrent attempts", () => {
  let limited: TestCluster;
  beforeAll(async () => {
    limited = await startCluster(2, inject("redisUrl"), { LOGIN_MAX_FAILS_PER_USER_IP: "3", LOGIN_MAX_FAILS_PER_IP: "1000", REGISTRATIONS_PER_IP: "1000" });
  });
  afterAll(() => limited?.close());

  it("lets a burst of 12 parallel wrong passwords for one account from one address (across nodes) get at most 3 password checks", async () => {
    const [a, b] = limited.nodes as [TestNode, TestNode];
    const username = newUsername("burst");
    expect((await register(a, username)).status).toBe(201);
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, i) => postWithHeaders(`${(i % 2 ? a : b).url}/login`, { username, password: `wrong guess ${i}` })),
    );
    const statuses = answers.map((answer) => answer.status);
    expect(statuses.every((status) => status === 401 || status === 429), statuses.join(",")).toBe(true);
    expect(statuses.filter((status) => status === 401).length, `statuses ${statuses.join(",")}`).toBeLessThanOrEqual(3);
    expectRateLimited(await postWithHeaders(`${a.url}/login`, { username, password: PASSWORD }), 900);
  });
});

describe("per-IP throttles under concurrent attempts", () => {
  let limited: TestCluster;
  beforeAll(async () => {
    limited = await startCluster(2, inject("redisUrl"), { LOGIN_MAX_FAILS_PER_IP: "3", REGISTRATIONS_PER_IP: "3" });
  });
  afterAll(() => limited?.close());

  it("lets a burst of 10 parallel registrations from one address create at most 3 accounts", async () => {
    const [a, b] = limited.nodes as [TestNode, TestNode];
    const names = Array.from({ length: 10 }, () => newUsername("flood"));
    const answers = await Promise.all(names.map((username, i) => postWithHeaders(`${(i % 2 ? a : b).url}/register`, { username, password: PASSWORD })));
    const statuses = answers.map((answer) => answer.status);
    expect(statuses.every((status) => status === 201 || status === 429), statuses.join(",")).toBe(true);
    const created = await Promise.all(names.map((name) => redis.exists(`${limited.prefix}:user:${name.toLowerCase()}`)));
    expect(created.filter(Boolean).length, `statuses ${statuses.join(",")}`).toBeLessThanOrEqual(3);
  });

  it("lets a burst of 10 parallel failed logins from one address get at most 3 password checks", async () => {
    const [a, b] = limited.nodes as [TestNode, TestNode];
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) => postWithHeaders(`${(i % 2 ? a : b).url}/login`, { username: newUsername("nobody"), password: `guess ${i}` })),
    );
    const statuses = answers.map((answer) => answer.status);
    expect(statuses.every((status) => status === 401 || status === 429), statuses.join(",")).toBe(true);
    expect(statuses.filter((status) => status === 401).length, `statuses ${statuses.join(",")}`).toBeLessThanOrEqual(3);
  });
});
