import { EventEmitter } from "node:events";
import { describe, expect, it } from "vitest";
import { ErrorCode } from "@sala/protocol";
import { loadConfig } from "../src/config.js";
import { clientAddress, proxyTrust } from "../src/http/client-address.js";
import { createLogger } from "../src/logger.js";
import { SocketCapGuard } from "../src/realtime/socket-caps.js";
import type { SalaSocket } from "../src/realtime/types.js";
import { MemorySocketCountStore } from "../src/stores/memory/socket-counts.js";

const caps = { perUser: 2, perAddress: 3 };
const TTL = 1000;

describe("the memory socket-count store", () => {
  it("counts per user and per address across nodes, refuses at either cap, and releases", async () => {
    const store = new MemorySocketCountStore();
    expect(await store.acquire("n1", "Ana", "10.0.0.1", caps, 0, TTL)).toBe("ok");
    expect(await store.acquire("n2", "ana", "10.0.0.1", caps, 0, TTL)).toBe("ok");
    expect(await store.acquire("n1", "ANA", "10.0.0.9", caps, 0, TTL)).toBe("user"); // names are case-folded
    expect(await store.acquire("n2", "bia", "10.0.0.1", caps, 0, TTL)).toBe("ok");
    expect(await store.acquire("n1", "caio", "10.0.0.1", caps, 0, TTL)).toBe("address");
    await store.release("n2", "ana", "10.0.0.1");
    expect(await store.acquire("n1", "caio", "10.0.0.1", caps, 0, TTL)).toBe("ok");
    expect(await store.acquire("n1", "ana", "10.0.0.2", { perUser: 0, perAddress: 0 }, 0, TTL)).toBe("ok"); // 0: no cap
  });

  it("lets a node's counts expire unless it keeps them alive, and takes back what it restores", async () => {
    const store = new MemorySocketCountStore();
    expect(await store.acquire("dead", "ana", "10.0.0.1", caps, 0, TTL)).toBe("ok");
    expect(await store.acquire("dead", "ana", "10.0.0.1", caps, 0, TTL)).toBe("ok");
    expect(await store.acquire("live", "ana", "10.0.0.1", caps, 500, TTL)).toBe("user");
    expect(await store.keepAlive("live", 500, TTL)).toBe(false); // never stamped: the node restores
    await store.restore("live", [], 500, TTL);
    expect(await store.keepAlive("live", 900, TTL)).toBe(true);
    expect(await store.acquire("live", "ana", "10.0.0.1", caps, 1000, TTL)).toBe("ok"); // "dead" expired at 1000
    await store.restore("live", [{ username: "bia", address: "10.0.0.2" }, { username: "bia", address: "10.0.0.2" }], 1100, TTL);
    expect(await store.acquire("other", "bia", "10.0.0.3", caps, 1100, TTL)).toBe("user");
    expect(await store.acquire("other", "ana", "10.0.0.1", caps, 1100, TTL)).toBe("ok"); // restore replaced ana's count
  });
});

/** A socket as far as the guard needs one. */
function fakeSocket(username: string, headers: Record<string, string> = {}) {
  const conn = Object.assign(new EventEmitter(), { readyState: "open" });
  const socket = Object.assign(new EventEmitter(), {
    data: { username },
    conn,
    request: { headers, socket: { remoteAddress: "127.0.0.1" } },
  });
  return socket as unknown as SalaSocket & EventEmitter & { conn: EventEmitter & { readyState: string } };
}

function guard(store = new MemorySocketCountStore(), trustProxy: string | boolean = false) {
  return new SocketCapGuard({
    store,
    nodeId: "n1",
    caps,
    trust: proxyTrust(trustProxy === false ? false : [String(trustProxy)]),
    heartbeatIntervalMs: 100,
    nodeTtlMs: TTL,
    logger: createLogger("n1", "silent"),
  });
}

const admit = (caps: SocketCapGuard, socket: SalaSocket) =>
  new Promise<string>((resolve) => void caps.admit(socket, (error) => resolve(error ? error.message : "ok")));

describe("SocketCapGuard", () => {
  it("refuses with TOO_MANY_SOCKETS, and frees a socket's slot once, when it disconnects", async () => {
    const caps = guard();
    const first = fakeSocket("ana");
    const second = fakeSocket("ana");
    expect(await admit(caps, first)).toBe("ok");
    expect(await admit(caps, second)).toBe("ok");
    expect(await admit(caps, fakeSocket("ana"))).toBe(ErrorCode.TOO_MANY_SOCKETS);
    first.emit("disconnect", "transport close");
    first.emit("disconnect", "transport close");
    const third = fakeSocket("ana");
    expect(await admit(caps, third)).toBe("ok");
    expect(await admit(caps, fakeSocket("ana"))).toBe(ErrorCode.TOO_MANY_SOCKETS); // released once, not twice
  });

  it("releases at once the count of a socket whose connection closed while it was taken", async () => {
    const caps = guard();
    const gone = fakeSocket("ana");
    gone.conn.readyState = "closed";
    expect(await admit(caps, gone)).toBe(ErrorCode.UNAVAILABLE);
    expect(await admit(caps, fakeSocket("ana"))).toBe("ok");
    expect(await admit(caps, fakeSocket("ana"))).toBe("ok");
  });

  it("counts the address TRUST_PROXY vouches for, as HTTP routes do", async () => {
    const trusting = guard(new MemorySocketCountStore(), "127.0.0.1");
    for (const user of ["a1", "a2", "a3"]) expect(await admit(trusting, fakeSocket(user, { "x-forwarded-for": "203.0.113.5" }))).toBe("ok");
    expect(await admit(trusting, fakeSocket("a4", { "x-forwarded-for": "203.0.113.5" }))).toBe(ErrorCode.TOO_MANY_SOCKETS);
    expect(await admit(trusting, fakeSocket("a4", { "x-forwarded-for": "203.0.113.6" }))).toBe("ok");
    // Not trusted: the header is the client's own word, and the peer's address counts.
    expect(clientAddress(fakeSocket("x", { "x-forwarded-for": "203.0.113.5" }).request, proxyTrust(false))).toBe("127.0.0.1");
    expect(clientAddress(fakeSocket("x", { "x-forwarded-for": "10.9.9.9, 203.0.113.5" }).request, proxyTrust(1))).toBe("203.0.113.5");
  });

  it("writes this node's counts back when they had expired while it lived", async () => {
    const store = new MemorySocketCountStore();
    const caps = guard(store);
    await admit(caps, fakeSocket("ana"));
    await admit(caps, fakeSocket("ana"));
    await store.forgetNode("n1"); // as if expired during a long pause
    expect(await store.acquire("n2", "ana", "10.1.1.1", { perUser: 2, perAddress: 0 }, Date.now(), TTL)).toBe("ok");
    await store.release("n2", "ana", "10.1.1.1");
    await caps.keepAlive();
    expect(await store.acquire("n2", "ana", "10.1.1.1", { perUser: 2, perAddress: 0 }, Date.now(), TTL)).toBe("user");
  });
});

describe("the socket caps' configuration", () => {
  it("defaults to 20 sockets per user and 500 per address, and 0 turns a cap off", () => {
    const base = { SESSION_SECRET: "x".repeat(32) };
    expect(loadConfig(base).socketCaps).toEqual({ perUser: 20, perAddress: 500 });
    expect(loadConfig({ ...base, MAX_SOCKETS_PER_USER: "0", MAX_SOCKETS_PER_ADDRESS: "0" }).socketCaps).toEqual({ perUser: 0, perAddress: 0 });
    expect(() => loadConfig({ ...base, MAX_SOCKETS_PER_USER: "-1" })).toThrow(/MAX_SOCKETS_PER_USER/);
  });

  it("bounds the hash queue at 32 waiting per hashing slot unless HASH_QUEUE_MAX says otherwise", () => {
    const base = { SESSION_SECRET: "x".repeat(32), ARGON2_CONCURRENCY: "3" };
    expect(loadConfig(base).hashQueueMax).toBe(96);
    expect(loadConfig({ ...base, HASH_QUEUE_MAX: "0" }).hashQueueMax).toBe(0);
    expect(() => loadConfig({ ...base, HASH_QUEUE_MAX: "lots" })).toThrow(/HASH_QUEUE_MAX/);
  });
});
