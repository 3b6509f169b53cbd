/**
 * The embedded node runs its SQLite stores on a thread of their own (stores/sqlite/thread): the
 * store contract holds through it unchanged, and what crosses between the threads — answers,
 * errors a client may see, the throttles' verdicts, sessions with their cookie's expiry — arrives
 * as the stores gave it.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SessionData } from "express-session";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { ErrorCode } from "@sala/protocol";
import { throttleFactory } from "../src/auth/throttle.js";
import { AppError, toErrorBody } from "../src/errors.js";
import { Revision } from "../src/stores/memory/revision.js";
import { openDatabase } from "../src/stores/sqlite/database.js";
import { createSqliteStores } from "../src/stores/sqlite/index.js";
import type { LobbyRooms } from "../src/stores/sqlite/lobby.js";
import { RemoteSessionStore, SqliteThread, StoreThreadUnavailableError } from "../src/stores/sqlite/thread/client.js";
import type { Stores } from "../src/stores/types.js";
import { describeStoreContract } from "./store-contract.js";

const dir = mkdtempSync(join(tmpdir(), "sala-thread-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const running: SqliteThread[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((thread) => thread.stop()));
});
const silent = { warn: () => {}, error: () => {} };
let files = 0;

/** The stores as app.ts wires them: the file's on a thread, presence and the rest here. */
async function threadStores(): Promise<{ stores: Stores; thread: SqliteThread }> {
  const file = join(dir, `sala-${++files}.sqlite`);
  openDatabase(file).close();
  const revision = new Revision();
  const thread = await SqliteThread.start({ file, revision: revision.buffer, messageIdWindowSec: 60, sessionIdleMs: 60_000 }, silent);
  running.push(thread);
  const tables = {
    users: thread.remote<Stores["users"]>("users"),
    sessionIndex: thread.remote<Stores["sessionIndex"]>("sessionIndex"),
    audit: thread.remote<Stores["audit"]>("audit"),
    rooms: thread.remote<Stores["rooms"]>("rooms"),
    conversations: thread.remote<Stores["conversations"]>("conversations"),
  };
  return { stores: createSqliteStores(tables, thread.remote<LobbyRooms>("lobbyRooms"), revision), thread };
}

describeStoreContract("sqlite, on its store thread", async () => (await threadStores()).stores);

describe("the SQLite store thread", () => {
  it("gives a client's error back as the AppError it was, with its fields", async () => {
    const { stores } = await threadStores();
    await stores.users.create({ username: "paypal", passwordHash: "h", createdAt: 1 });
    const refused = await stores.users.create({ username: "paypaI", passwordHash: "h", createdAt: 2 }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(AppError);
    expect(refused).toMatchObject({ code: ErrorCode.NAME_CONFUSABLE, existing: "paypal", name: "NameConfusableError" });
  });

  it("counts the lobby's revision on one counter for both threads", async () => {
    const { stores } = await threadStores();
    const before = await stores.lobby.rev();
    const { rev } = (await stores.rooms.create({ id: "r1", name: "Sala", owner: "ana", passwordHash: null, createdAt: 1 }, { id: 1, key: "k" }, 0)) as { rev: number };
    expect(rev).toBe(before + 1);
    expect(await stores.lobby.rev()).toBe(rev);
    expect((await stores.lobby.firstPage(10)).rooms.map((room) => room.name)).toEqual(["Sala"]);
  });

  it("throttles from the file: a refused attempt says how long to wait", async () => {
    const { thread } = await threadStores();
    const logins = throttleFactory({ remote: (options) => thread.limiter(options) }, (name) => `sala:rl:${name}`)("login", 2, 900);
    expect(await logins.attempt("ana")).toEqual({ wait: 0, count: 1 });
    expect(await logins.attempt("ana")).toEqual({ wait: 0, count: 2 });
    const third = await logins.attempt("ana");
    expect(third.count).toBe(3);
    expect(third.wait).toBeGreaterThan(890_000);
    await logins.reset("ana");
    expect(await logins.take("ana")).toBe(0);
  });

  it("keeps sessions until their cookie's expiry, and renews only a live one", async () => {
    const { thread } = await threadStores();
    const store = new RemoteSessionStore(thread);
    const call = <T>(fn: (done: (error: unknown, value?: T) => void) => void) =>
      new Promise<T | undefined>((resolve, reject) => fn((error, value) => (error ? reject(error as Error) : resolve(value))));
    const soon = { cookie: { originalMaxAge: 60_000, expires: new Date(Date.now() + 60_000), httpOnly: true, path: "/" } } as unknown as SessionData;
    const gone = { cookie: { originalMaxAge: 1, expires: new Date(Date.now() - 1000), httpOnly: true, path: "/" } } as unknown as SessionData;
    await call((done) => store.set("s1", { ...soon, username: "ana" } as SessionData, done));
    await call((done) => store.set("s2", gone, done));
    expect(await call<SessionData | null>((done) => store.get("s1", done))).toMatchObject({ username: "ana" });
    expect(await call<SessionData | null>((done) => store.get("s2", done))).toBeNull();
    expect(await store.renew("s1", soon.cookie)).toBe(true);
    expect(await store.renew("s2", soon.cookie)).toBe(false);
    await call((done) => store.destroy("s1", done));
    expect(await call<SessionData | null>((done) => store.get("s1", done))).toBeNull();
  });

  it("sends a turn's calls together, and refuses only the one that cannot cross", async () => {
    const { stores, thread } = await threadStores();
    await stores.users.create({ username: "ana", passwordHash: "h", createdAt: 1 });
    const [good, bad, alsoGood] = await Promise.allSettled([stores.users.get("ana"), thread.call("users", "get", [() => "ana"]), stores.users.get("bia")]);
    expect(good).toMatchObject({ status: "fulfilled", value: { username: "ana" } });
    expect(bad).toMatchObject({ status: "rejected", reason: { name: "DataCloneError" } });
    expect(alsoGood).toEqual({ status: "fulfilled", value: null });
  });

  it("answers every call made before it stops, and none after", async () => {
    const { stores, thread } = await threadStores();
    await stores.users.create({ username: "ana", passwordHash: "h", createdAt: 1 });
    const inFlight = Array.from({ length: 200 }, (_, i) => stores.audit.append({ ts: i, actor: "ana", action: "test", target: "bia", outcome: "ok" }, 1000));
    await thread.stop();
    await expect(Promise.all(inFlight)).resolves.toHaveLength(200);
    await expect(stores.users.get("ana")).rejects.toThrow(/store thread stopped/);
  });

  it("offers the thread's methods and nothing else: a stand-in is no promise and has no toJSON", async () => {
    const { stores, thread } = await threadStores();
    expect(typeof stores.users.get).toBe("function");
    expect("get" in stores.users).toBe(true);
    for (const key of ["then", "toJSON", "constructor", "toString", "nope"]) expect((stores.users as unknown as Record<string, unknown>)[key]).toBeUndefined();
    await expect(thread.call("users", "constructor", [])).rejects.toThrow("the store thread has no users.constructor");
    expect(() => thread.assertAvailable()).not.toThrow();
  });

  it("once its thread is gone, fails the calls in flight as UNAVAILABLE, starts a new one and serves the same file", async () => {
    const lines: Array<Record<string, unknown>> = [];
    const file = join(dir, "lost.sqlite");
    openDatabase(file).close();
    const log = { warn: (fields: Record<string, unknown>) => lines.push(fields), error: (fields: Record<string, unknown>) => lines.push(fields) };
    const thread = await SqliteThread.start({ file, revision: new Revision().buffer, messageIdWindowSec: 60, sessionIdleMs: 60_000 }, log);
    running.push(thread);
    const users = thread.remote<Stores["users"]>("users");
    await users.create({ username: "ana", passwordHash: "h", createdAt: 1 });
    const inFlight = users.get("ana");
    await (thread as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
    const failed = await inFlight.catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(StoreThreadUnavailableError);
    expect(toErrorBody(failed).code).toBe(ErrorCode.UNAVAILABLE);
    expect(() => thread.assertAvailable()).toThrow(/store thread stopped/);
    await expect(users.get("ana")).rejects.toBeInstanceOf(StoreThreadUnavailableError);
    // A new thread on the same file, with what was committed before.
    await vi.waitFor(() => thread.assertAvailable(), { timeout: 10_000, interval: 50 });
    expect(await users.get("ana")).toMatchObject({ username: "ana", passwordHash: "h" });
    expect(lines.map((line) => line.event)).toEqual(["store_thread_lost", "store_thread_restarted"]);
  }, 15_000);

  it("never restarts on a new, empty file when the file is gone, and stops at once while it waits to try again", async () => {
    const lines: Array<Record<string, unknown>> = [];
    const folder = mkdtempSync(join(dir, "gone-"));
    const file = join(folder, "sala.sqlite");
    openDatabase(file).close();
    const log = { warn: (fields: Record<string, unknown>) => lines.push(fields), error: (fields: Record<string, unknown>) => lines.push(fields) };
    const thread = await SqliteThread.start({ file, revision: new Revision().buffer, messageIdWindowSec: 60, sessionIdleMs: 60_000 }, log);
    rmSync(folder, { recursive: true, force: true });
    await (thread as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
    await vi.waitFor(() => expect(lines.map((line) => line.event)).toContain("store_thread_restart_failed"), { timeout: 10_000, interval: 50 });
    expect(lines.find((line) => line.event === "store_thread_restart_failed")).toMatchObject({ err: expect.stringContaining("is gone") });
    expect(existsSync(file)).toBe(false);
    const started = Date.now();
    await thread.stop(); // it was waiting a second before trying again
    expect(Date.now() - started).toBeLessThan(500);
    expect(existsSync(file)).toBe(false);
  }, 15_000);

  it("refuses to start on a file of another schema version, saying why", async () => {
    const file = join(dir, "other.sqlite");
    const db = openDatabase(file);
    db.pragma("user_version = 999");
    db.close();
    await expect(SqliteThread.start({ file, revision: new Revision().buffer, messageIdWindowSec: 60, sessionIdleMs: 60_000 }, silent)).rejects.toThrow(/schema version 999/);
  });
});
