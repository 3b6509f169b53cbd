/**
 * In-process Sala nodes for integration tests: N nodes on one real redis-server (or one embedded
 * node), each on its own free loopback port, with real HTTP and real socket.io-client sockets.
 */
import { io as connectSocket, type Socket } from "socket.io-client";
import { pino } from "pino";
import { expect } from "vitest";
import { ErrorCode, type ClientToServerEvents, type LobbySnapshot, type RoomKey, type ServerToClientEvents } from "@sala/protocol";
import { decryptText } from "@sala/protocol/envelope";
import { buildNode, type SalaNode } from "../../src/app.js";
import { loadConfig } from "../../src/config.js";
import { inject } from "vitest";
import { uniquePrefix } from "./redis-client.js";

export const TEST_ORIGIN = "http://localhost:3000";
export const TEST_SECRET = "test-session-secret-at-least-32-characters-long";

export type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

export interface TestNode {
  node: SalaNode;
  url: string;
  id: string;
}

export interface TestCluster {
  nodes: TestNode[];
  prefix: string;
  close(): Promise<void>;
}

export async function startCluster(
  count: number,
  redisUrl: string | null,
  env: Record<string, string> = {},
): Promise<TestCluster> {
  const prefix = uniquePrefix("cluster");
  const nodes: TestNode[] = [];
  for (let i = 1; i <= count; i++) nodes.push(await startNode(`${prefix}-n${i}`, redisUrl, prefix, env));
  return {
    nodes,
    prefix,
    close: async () => {
      await Promise.allSettled(nodes.map(({ node }) => node.close()));
    },
  };
}

let onRedisCluster = false;

/**
 * Makes this file's test nodes keep their shared state on the run's Redis Cluster (3 primaries,
 * 3 replicas) wherever they are given the run's redis-server: the `*.redis-cluster.int.test.ts`
 * files call it, then import a suite, so that the same tests run on both.
 */
export function useRedisCluster(): void {
  onRedisCluster = true;
}

/** What `npm run admin` needs to act on this test cluster's store (the run's Redis, or its Redis Cluster). */
export function adminEnv(cluster: Pick<TestCluster, "prefix">): Record<string, string> {
  return { ...storeEnv(inject("redisUrl")), REDIS_PREFIX: cluster.prefix };
}

/** The store variables for a node given `redisUrl` (see useRedisCluster). */
function storeEnv(redisUrl: string | null): Record<string, string> {
  if (!redisUrl) return {};
  return onRedisCluster && redisUrl === inject("redisUrl") ? { REDIS_CLUSTER_NODES: inject("redisClusterNodes") } : { REDIS_URL: redisUrl };
}

/** The environment of a test node: free port, fast heartbeats and lobby flushes, `env` on top. */
export function testNodeEnv(id: string, redisUrl: string | null, prefix: string, env: Record<string, string> = {}): Record<string, string> {
  return {
    PORT: "0",
    HOST: "127.0.0.1",
    NODE_ID: id,
    REDIS_PREFIX: prefix,
    SESSION_SECRET: TEST_SECRET,
    ALLOWED_ORIGINS: TEST_ORIGIN,
    LOBBY_FLUSH_MS: "20",
    LOBBY_COUNTS_MS: "100",
    LOBBY_TICK_MS: "50",
    HEARTBEAT_INTERVAL_MS: "200",
    NODE_TTL_MS: "1000",
    PRESENCE_GRACE_MS: "0", // announce offline at once; the grace period has its own test
    REGISTRATIONS_PER_IP: "100000", // every test user registers from 127.0.0.1
    // Embedded test nodes keep to memory unless a test names a DATA_DIR of its own (never ./data).
    ...(redisUrl || env.REDIS_URL || env.REDIS_CLUSTER_NODES ? {} : { STORE: "memory" }),
    ...storeEnv(redisUrl),
    ...env,
  };
}

export async function startNode(id: string, redisUrl: string | null, prefix: string, env: Record<string, string> = {}): Promise<TestNode> {
  const config = loadConfig(testNodeEnv(id, redisUrl, prefix, env));
  const node = await buildNode(config, pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" }));
  const port = await node.listen();
  return { node, url: `http://127.0.0.1:${port}`, id };
}

export async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: any; cookie: string | null }> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  const setCookie = response.headers.get("set-cookie");
  return { status: response.status, json: await response.json(), cookie: setCookie ? setCookie.split(";")[0]! : null };
}

let userCounter = 0;
/** A fresh, valid, unique username. */
export function newUsername(label = "user"): string {
  return `${label}${process.pid % 1000}x${++userCounter}`;
}

export const PASSWORD = "correct horse battery";

/** Registers through `node` and logs in through `loginNode` (default: the same); returns the cookie. */
export async function registerAndLogin(node: Pick<TestNode, "url">, username: string, loginNode: Pick<TestNode, "url"> = node): Promise<string> {
  const registered = await post(`${node.url}/register`, { username, password: PASSWORD });
  if (registered.status !== 201) throw new Error(`register failed: ${JSON.stringify(registered.json)}`);
  const login = await post(`${loginNode.url}/login`, { username, password: PASSWORD });
  if (login.status !== 200 || !login.cookie) throw new Error(`login failed: ${JSON.stringify(login.json)}`);
  return login.cookie;
}

const firstSnapshots = new WeakMap<ClientSocket, Promise<LobbySnapshot>>();

/** The lobby snapshot the server sends a socket on connect (a socket made by `connect`). */
export function firstLobby(socket: ClientSocket): Promise<LobbySnapshot> {
  const snapshot = firstSnapshots.get(socket);
  if (!snapshot) throw new Error("firstLobby: socket was not made by connect()");
  return snapshot;
}

/** A connected socket.io-client socket with the session cookie (rejects on connect_error). */
/** `prepare` runs on the new socket before it connects: listeners that must not miss an early event. */
export function connect(
  node: Pick<TestNode, "url">,
  cookie: string | null,
  origin: string | null = TEST_ORIGIN,
  prepare?: (socket: ClientSocket) => void,
): Promise<ClientSocket> {
  return connectWith(node, { cookie, origin, prepare });
}

export interface ConnectOptions {
  cookie: string | null;
  origin?: string | null;
  /** More request headers (e.g. X-Forwarded-For for a node that trusts the test's proxy). */
  headers?: Record<string, string>;
  /** The handshake's `auth` (e.g. `{ rooms }` to resume rooms). */
  auth?: Record<string, unknown>;
  prepare?: (socket: ClientSocket) => void;
}

/** Like connect, with every handshake option a test may need. */
export async function connectWith(node: Pick<TestNode, "url">, options: ConnectOptions): Promise<ClientSocket> {
  const { cookie, origin = TEST_ORIGIN, prepare } = options;
  const headers: Record<string, string> = { ...options.headers };
  if (cookie) headers.cookie = cookie;
  if (origin) headers.origin = origin;
  const socket: ClientSocket = connectSocket(node.url, {
    transports: ["websocket"],
    extraHeaders: headers,
    ...(options.auth ? { auth: options.auth } : {}),
    reconnection: false,
    forceNew: true,
  });
  // Listening from the start: the snapshot may arrive in the same read as the connect packet.
  firstSnapshots.set(socket, new Promise((resolve) => socket.once("lobby", resolve)));
  prepare?.(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", () => resolve());
    socket.once("connect_error", (error) => {
      socket.close();
      reject(error);
    });
  });
  return socket;
}

/**
 * Asserts that a handshake with `cookie` is refused for want of a logged-in session before any
 * Engine.IO session exists: a polling handshake gets 403 with engine.io's UNAUTHORIZED error and
 * no sid, and a websocket connect fails.
 */
export async function expectNoSessionRefused(node: Pick<TestNode, "url">, cookie: string | null): Promise<void> {
  const polled = await fetch(`${node.url}/socket.io/?EIO=4&transport=polling`, { headers: { origin: TEST_ORIGIN, ...(cookie ? { cookie } : {}) } });
  expect(polled.status).toBe(403);
  expect(await polled.json()).toEqual({ code: 4, message: ErrorCode.UNAUTHORIZED });
  await expect(connect(node, cookie)).rejects.toThrow("websocket error");
}

/** Resolves with the first `event` payload matching `predicate`, or rejects after `timeoutMs`. */
export function waitFor<T = any>(socket: ClientSocket, event: string, predicate: (payload: T) => boolean = () => true, timeoutMs = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const listener = (payload: T) => {
      if (!predicate(payload)) return;
      clearTimeout(timer);
      socket.off(event as never, listener as never);
      resolve(payload);
    };
    const timer = setTimeout(() => {
      socket.off(event as never, listener as never);
      reject(new Error(`timed out waiting for "${event}"`));
    }, timeoutMs);
    socket.on(event as never, listener as never);
  });
}

/** Records every payload of `event` on `socket`. */
export function record<T = any>(socket: ClientSocket, event: string): T[] {
  const seen: T[] = [];
  socket.on(event as never, ((payload: T) => seen.push(payload)) as never);
  return seen;
}

/** Emits with an ack and resolves with the answer. */
export function request(socket: ClientSocket, event: string, payload: unknown, timeoutMs = 5000): Promise<any> {
  return (socket.timeout(timeoutMs) as any).emitWithAck(event, payload);
}

/** Polls `check` until it returns true or the time runs out (for eventually-consistent state). */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 5000, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The plaintexts of stored messages under these keys ("?" for one that does not decrypt). */
export const decryptAll = (messages: Array<{ msg: string }>, scope: string, keys: RoomKey[]) =>
  messages.map((m) => {
    const result = decryptText(m.msg, scope, (id) => keys.find((k) => k.id === id)?.key);
    return result.ok ? result.text : "?";
  });

/** A socket that records why its session ended elsewhere (`signed_out`) and whether it closed. */
export interface WatchedSocket {
  socket: ClientSocket;
  signedOut: Array<{ reason: string }>;
  closed(): boolean;
}

/** Connects `cookie` to `node`, watching for `signed_out` and the disconnection; the socket joins `opened` (closed by the caller). */
export async function watchedSocket(node: Pick<TestNode, "url">, cookie: string, opened: ClientSocket[]): Promise<WatchedSocket> {
  const signedOut: Array<{ reason: string }> = [];
  let closed = false;
  const socket = await connect(node, cookie, undefined, (s) => {
    s.on("signed_out", (event) => signedOut.push(event));
    s.on("disconnect", () => (closed = true));
  });
  opened.push(socket);
  return { socket, signedOut, closed: () => closed };
}
