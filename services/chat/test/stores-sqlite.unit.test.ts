import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import Database from "better-sqlite3";
import type { SessionData } from "express-session";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ErrorCode } from "@sala/protocol";
import { SchemaVersionError } from "../src/stores/schema.js";
import { openDatabase, SQLITE_SCHEMA_VERSION, type SqliteDatabase } from "../src/stores/sqlite/database.js";
import { createSqliteStoresHere } from "../src/stores/sqlite/index.js";
import { SqliteSessionStore } from "../src/stores/sqlite/session-store.js";
import { describeStoreContract } from "./store-contract.js";

describeStoreContract("sqlite", async () => createSqliteStoresHere(openDatabase(":memory:")));

const key = () => randomBytes(32).toString("base64");
const cap = (maxMessages: number, maxAgeMs = 0) => ({ maxMessages, maxAgeMs });

/** What a file holds is read back through a new handle after the first one is closed: what a restart does. */
describe("sqlite stores on a file, across a restart", () => {
  let dir: string;
  let file: string;
  const handles: SqliteDatabase[] = [];
  const open = () => {
    const db = openDatabase(file);
    handles.push(db);
    return db;
  };
  const restart = (db: SqliteDatabase) => {
    db.close();
    return open();
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "sala-sqlite-"));
    file = join(dir, "data", "sala.db");
  });
  afterEach(() => {
    for (const db of handles.splice(0)) if (db.open) db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("records its layout's version in a new file, and refuses a file of another version untouched", () => {
    const db = open();
    expect(db.pragma("user_version", { simple: true })).toBe(SQLITE_SCHEMA_VERSION);
    expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
    db.pragma(`user_version = ${SQLITE_SCHEMA_VERSION + 1}`);
    db.close();
    expect(() => openDatabase(file)).toThrow(SchemaVersionError);
    expect(() => openDatabase(file)).toThrow(new RegExp(`schema version ${SQLITE_SCHEMA_VERSION + 1}, this node runs version ${SQLITE_SCHEMA_VERSION}`));
    const after = new Database(file, { readonly: true });
    expect(after.pragma("user_version", { simple: true })).toBe(SQLITE_SCHEMA_VERSION + 1);
    after.close();
  });

  it("keeps users: records, roles, status, the directory, the count and the look-alike claims", async () => {
    let db = open();
    let stores = createSqliteStoresHere(db);
    await stores.users.create({ username: "Ana", passwordHash: "h1", createdAt: 5 });
    await stores.users.create({ username: "Bruno", passwordHash: "h", createdAt: 6 });
    await stores.users.create({ username: "carla", passwordHash: "h", createdAt: 7 });
    await stores.users.setAdmin("ana", true);
    await stores.users.setLocked("ana", true, 1000);
    await stores.users.recordSeen("ana", 2000, true);
    await stores.users.setPasswordHash("ana", "h2", true, { sessionsNotBefore: 1500 });
    await stores.users.delete("bruno");

    db = restart(db);
    stores = createSqliteStoresHere(db);
    expect(await stores.users.account("ANA")).toEqual({
      username: "Ana", passwordHash: "h2", createdAt: 5, admin: true, lockedAt: 1000, mustChangePassword: true, lastLoginAt: 2000, lastSeenAt: 2000, sessionsNotBefore: 1500,
    });
    expect(await stores.users.get("bruno")).toBeNull();
    expect(await stores.users.directory({ prefix: "", after: null, limit: 10 })).toEqual({ items: ["ana", "carla"], next: null });
    expect(await stores.users.count()).toBe(2);
    expect(await stores.users.create({ username: "ANA", passwordHash: "x", createdAt: 8 })).toBe(false);
    await expect(stores.users.create({ username: "carIa", passwordHash: "x", createdAt: 9 })).rejects.toMatchObject({ code: ErrorCode.NAME_CONFUSABLE, existing: "carla" });
    // The deleted account's name was freed for good.
    expect(await stores.users.create({ username: "bruno", passwordHash: "h3", createdAt: 10 })).toBe(true);
    expect(await stores.users.count()).toBe(3);
  });

  it("keeps the session index, and forgets a deleted account's sessions for good", async () => {
    let db = open();
    let stores = createSqliteStoresHere(db);
    await stores.users.create({ username: "Ana", passwordHash: "h", createdAt: 1 });
    await stores.sessionIndex.add("Ana", { id: "s2", loginAt: 200 }, 0);
    await stores.sessionIndex.add("ana", { id: "s1", loginAt: 100 }, 0);
    await stores.sessionIndex.add("bia", { id: "s9", loginAt: 300 }, 0);

    db = restart(db);
    stores = createSqliteStoresHere(db);
    expect(await stores.sessionIndex.list("ANA")).toEqual([{ id: "s1", loginAt: 100 }, { id: "s2", loginAt: 200 }]);
    await stores.sessionIndex.add("ana", { id: "s3", loginAt: 400 }, 150);
    expect(await stores.users.delete("ana")).toBe(true);

    db = restart(db);
    stores = createSqliteStoresHere(db);
    expect(await stores.sessionIndex.list("ana")).toEqual([]);
    expect(await stores.sessionIndex.list("bia")).toEqual([{ id: "s9", loginAt: 300 }]);
  });

  it("keeps the audit trail, capped to its latest entries", async () => {
    const entry = (i: number) => ({ ts: i, actor: "root", action: "lock", target: `u${i}`, outcome: "done" });
    let db = open();
    let stores = createSqliteStoresHere(db);
    for (let i = 1; i <= 5; i++) await stores.audit.append(entry(i), 3);

    db = restart(db);
    stores = createSqliteStoresHere(db);
    expect(await stores.audit.recent(10)).toEqual([entry(5), entry(4), entry(3)]);
    await stores.audit.append(entry(6), 3);
    expect(await stores.audit.recent(10)).toEqual([entry(6), entry(5), entry(4)]);
    expect(db.prepare("SELECT COUNT(*) AS n FROM audit_log").get()).toEqual({ n: 3 });
  });

  it("keeps conversations: keys, whispers, unread state, lists and recent message ids", async () => {
    const id = "dm:ana:bia";
    const k1 = key();
    let db = open();
    let stores = createSqliteStoresHere(db);
    await stores.conversations.open("Ana", "Bia", k1);
    const whisper = (from: string, to: string, ts: number, clientId?: string) => ({ from, to, keyId: 1, ts, msg: `v1.${from}@${ts}`, ...(clientId ? { clientId } : {}) });
    await stores.conversations.accept(whisper("Ana", "Bia", 10, "abcdefgh01"), cap(100));
    await stores.conversations.accept(whisper("Bia", "Ana", 11), cap(100));
    await stores.conversations.accept(whisper("Bia", "Ana", 12), cap(100));
    await stores.conversations.markRead("Ana", "Bia", 2);

    db = restart(db);
    stores = createSqliteStoresHere(db);
    expect(await stores.conversations.list("ana", 10)).toEqual([{ id, with: "Bia", unread: 1, lastSeq: 3, lastTs: 12 }]);
    expect(await stores.conversations.list("bia", 10)).toEqual([{ id, with: "Ana", unread: 0, lastSeq: 3, lastTs: 12 }]);
    expect(await stores.conversations.partners("bia", 10)).toEqual(["ana"]);
    expect(await stores.conversations.history("bia", "ana", { limit: 10 })).toEqual([
      { conversationId: id, seq: 1, from: "Ana", to: "Bia", ts: 10, msg: "v1.Ana@10" },
      { conversationId: id, seq: 2, from: "Bia", to: "Ana", ts: 11, msg: "v1.Bia@11" },
      { conversationId: id, seq: 3, from: "Bia", to: "Ana", ts: 12, msg: "v1.Bia@12" },
    ]);
    expect(await stores.conversations.keysById(id, [1])).toEqual([{ id: 1, key: k1 }]);
    expect((await stores.conversations.open("bia", "ana", key())).key).toEqual({ id: 1, key: k1 });
    // A retry of a message sent before the restart is answered, not stored again.
    expect(await stores.conversations.accept(whisper("Ana", "Bia", 20, "abcdefgh01"), cap(100))).toEqual({ seq: 1, ts: 10, duplicate: true, announced: false });
    expect(await stores.conversations.accept(whisper("Ana", "Bia", 21), cap(100))).toEqual({ seq: 4, ts: 21, duplicate: false, announced: false });
    expect((await stores.conversations.list("ana", 10))[0]).toMatchObject({ unread: 0, lastSeq: 4 });
  });

  it("trims a conversation's stored history to its cap, and purges a deleted one's in chunks", async () => {
    let db = open();
    let stores = createSqliteStoresHere(db);
    const stored = () => (db.prepare("SELECT COUNT(*) AS n FROM conversation_messages").get() as { n: number }).n;
    await stores.conversations.open("ana", "bia", key());
    for (let ts = 1; ts <= 10; ts++) await stores.conversations.accept({ from: "ana", to: "bia", keyId: 1, ts, msg: `m${ts}` }, cap(10));
    await stores.conversations.accept({ from: "ana", to: "bia", keyId: 1, ts: 11, msg: "m11" }, cap(3));
    expect((await stores.conversations.history("ana", "bia", { limit: 100 })).map((w) => w.seq)).toEqual([9, 10, 11]);
    expect(stored()).toBe(3);

    // More messages than one purge chunk: the deletion takes several, and leaves nothing behind.
    const insert = db.transaction(() => {
      for (let ts = 12; ts <= 5000; ts++) void stores.conversations.accept({ from: "bia", to: "ana", keyId: 1, ts, msg: `m${ts}` }, cap(10_000));
    });
    insert();
    expect(stored()).toBe(3 + 5000 - 11);
    db = restart(db);
    stores = createSqliteStoresHere(db);
    await stores.conversations.delete("dm:ana:bia");
    expect(stored()).toBe(0);
    expect(db.prepare("SELECT COUNT(*) AS n FROM conversation_purges").get()).toEqual({ n: 0 });
    expect(await stores.conversations.list("ana", 10)).toEqual([]);
    // Opened again under the same id: a new conversation, nothing of the old one.
    const k2 = key();
    const again = await stores.conversations.open("ana", "bia", k2);
    expect(again).toEqual({ conversation: { id: "dm:ana:bia", with: "bia", unread: 0, lastSeq: 0, lastTs: 0 }, key: { id: 1, key: k2 } });
    expect(await stores.conversations.history("ana", "bia", { limit: 10 })).toEqual([]);
  });

  it("finishes at the next start a conversation's purge that a stop cut short", async () => {
    let db = open();
    const stores = createSqliteStoresHere(db);
    const stored = () => (db.prepare("SELECT COUNT(*) AS n FROM conversation_messages").get() as { n: number }).n;
    await stores.conversations.open("ana", "bia", key());
    db.transaction(() => {
      for (let ts = 1; ts <= 5000; ts++) void stores.conversations.accept({ from: "bia", to: "ana", keyId: 1, ts, msg: `m${ts}` }, cap(10_000));
    })();
    const deleting = stores.conversations.delete("dm:ana:bia"); // its first chunk runs now
    db.close(); // the node stops before the next
    await deleting;
    db = open();
    expect(stored()).toBeGreaterThan(0);
    createSqliteStoresHere(db);
    await expect.poll(stored).toBe(0);
    expect(db.prepare("SELECT COUNT(*) AS n FROM conversation_purges").get()).toEqual({ n: 0 });
  });
});

describe("sqlite session store on a file", () => {
  let dir: string;
  let file: string;
  const handles: SqliteDatabase[] = [];
  const stores: SqliteSessionStore[] = [];
  const open = () => {
    const db = openDatabase(file);
    handles.push(db);
    return db;
  };
  const sessionStore = (db: SqliteDatabase, options: Partial<ConstructorParameters<typeof SqliteSessionStore>[1]> = {}) => {
    const store = new SqliteSessionStore(db, { idleMs: 60_000, sweepEveryMs: 0, ...options });
    stores.push(store);
    return store;
  };
  const cookie = (inMs: number | null) =>
    ({ originalMaxAge: inMs, expires: inMs === null ? undefined : new Date(Date.now() + inMs), httpOnly: true, path: "/" }) as unknown as SessionData["cookie"];
  const data = (user: string, inMs: number | null) => ({ cookie: cookie(inMs), user, loginAt: 1 }) as SessionData;
  const call = <T>(run: (done: (error: unknown, value?: T) => void) => void) =>
    new Promise<T | undefined>((resolve, reject) => run((error, value) => (error ? reject(error) : resolve(value))));
  const get = (store: SqliteSessionStore, sid: string) => call<SessionData | null>((done) => store.get(sid, done));
  const set = (store: SqliteSessionStore, sid: string, session: SessionData) => call((done) => store.set(sid, session, done));
  const rows = (db: SqliteDatabase) => db.prepare("SELECT sid, expires_at AS expiresAt FROM sessions ORDER BY sid").all() as Array<{ sid: string; expiresAt: number }>;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "sala-sessions-"));
    file = join(dir, "sala.db");
  });
  afterEach(() => {
    for (const store of stores.splice(0)) store.close();
    for (const db of handles.splice(0)) if (db.open) db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("sets, gets, touches and destroys sessions, which outlive a restart", async () => {
    let db = open();
    let store = sessionStore(db);
    const before = Date.now();
    await set(store, "s1", data("Ana", 30_000));
    await set(store, "s2", data("Bia", null)); // no cookie expiry: the idle timeout
    expect(await get(store, "s1")).toMatchObject({ user: "Ana", loginAt: 1, cookie: { originalMaxAge: 30_000 } });
    const [s1, s2] = rows(db);
    expect(s1!.expiresAt).toBeGreaterThanOrEqual(before + 30_000);
    expect(s2!.expiresAt).toBeGreaterThanOrEqual(before + 60_000);
    expect(s2!.expiresAt).toBeLessThanOrEqual(Date.now() + 60_000);

    db.close();
    store.close();
    db = open();
    store = sessionStore(db);
    expect(await get(store, "s1")).toMatchObject({ user: "Ana" });

    // A touch moves the expiry and stores the cookie; a renewal says whether the session exists.
    const later = cookie(50_000);
    await call((done) => store.touch("s1", { cookie: later } as SessionData, done));
    expect(rows(db)[0]!.expiresAt).toBe(later.expires!.getTime());
    expect((await get(store, "s1"))?.cookie).toMatchObject({ originalMaxAge: 50_000, expires: later.expires!.toISOString() });
    expect(await store.renew("s2", cookie(40_000))).toBe(true);
    expect(await store.renew("nobody", cookie(40_000))).toBe(false);
    expect(rows(db).map((row) => row.sid)).toEqual(["s1", "s2"]);

    await call((done) => store.destroy("s1", done));
    expect(await get(store, "s1")).toBeNull();
    expect(rows(db).map((row) => row.sid)).toEqual(["s2"]);
  });

  it("renews thousands of sessions asked at once in chunks, the event loop running between them", async () => {
    const db = open();
    const store = sessionStore(db);
    db.transaction(() => {
      for (let i = 0; i < 2000; i++) db.prepare("INSERT INTO sessions (sid, data, expires_at) VALUES (?, ?, ?)").run(`s${i}`, JSON.stringify(data("Ana", 30_000)), Date.now() + 30_000);
    })();
    let turns = 0;
    const ticking = setInterval(() => turns++, 0);
    const renewed = await Promise.all([...Array.from({ length: 2000 }, (_, i) => store.renew(`s${i}`, cookie(90_000))), store.renew("gone", cookie(90_000))]);
    clearInterval(ticking);
    expect(renewed.filter(Boolean)).toHaveLength(2000);
    expect(renewed.at(-1)).toBe(false);
    expect(turns).toBeGreaterThan(1); // 8 transactions of 250, the timers' turn between them
    expect(Math.min(...rows(db).map((row) => row.expiresAt))).toBeGreaterThan(Date.now() + 60_000);
  });

  it("never returns or renews an expired session, keeps none set already expired, and sweeps expired rows", async () => {
    const db = open();
    const store = sessionStore(db);
    await set(store, "short", data("Ana", 300));
    await set(store, "long", data("Bia", 60_000));
    await set(store, "past", data("Caio", -1000));
    expect(rows(db).map((row) => row.sid)).toEqual(["long", "short"]);
    expect(await get(store, "short")).toMatchObject({ user: "Ana" });
    await sleep(350);
    expect(await get(store, "short")).toBeNull();
    expect(await store.renew("short", cookie(60_000))).toBe(false); // not brought back
    expect(rows(db).map((row) => row.sid)).toEqual(["long", "short"]); // still stored, until the sweep
    expect(store.sweepExpired()).toBe(1);
    expect(rows(db).map((row) => row.sid)).toEqual(["long"]);
    expect(await get(store, "long")).toMatchObject({ user: "Bia" });
  });

  it("sweeps in bounded chunks, on an unref'd timer that close stops", async () => {
    const db = open();
    const timers = () => process.getActiveResourcesInfo().filter((kind) => kind === "Timeout").length;
    // Long enough to be stored under a loaded machine's delays, short enough to wait for.
    const expiring = async (store: SqliteSessionStore, count: number) => {
      for (let i = 0; i < count; i++) await set(store, `gone${i}`, data("Ana", 200));
    };

    const byHand = sessionStore(db, { sweepChunk: 2 });
    await expiring(byHand, 5);
    expect(rows(db)).toHaveLength(5);
    await sleep(250);
    expect([byHand.sweepExpired(), byHand.sweepExpired(), byHand.sweepExpired(), byHand.sweepExpired()]).toEqual([2, 2, 1, 0]);

    const before = timers();
    const timed = sessionStore(db, { sweepChunk: 2, sweepEveryMs: 20 });
    expect(timers()).toBe(before); // the sweep timer keeps no process alive
    await set(timed, "live", data("Bia", 60_000));
    await expiring(timed, 5);
    expect(rows(db)).toHaveLength(6);
    for (let waited = 0; rows(db).length > 1 && waited < 3000; waited += 20) await sleep(20);
    expect(rows(db).map((row) => row.sid)).toEqual(["live"]);

    timed.close();
    await expiring(timed, 3);
    await sleep(300);
    expect(rows(db)).toHaveLength(4);
  });

  it("reports a failed sweep and goes on, never throwing out of its timer", async () => {
    const db = open();
    const errors: string[] = [];
    sessionStore(db, { sweepEveryMs: 10, onSweepError: (error) => errors.push((error as Error).message) });
    db.close();
    for (let waited = 0; errors.length < 2 && waited < 2000; waited += 10) await sleep(10);
    expect(errors.length).toBeGreaterThanOrEqual(2);
    expect(errors[0]).toMatch(/not open/);
  });
});
