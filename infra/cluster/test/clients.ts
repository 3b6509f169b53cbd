/**
 * Many logged-in socket.io clients through nginx, for the fault tests: each tracks its
 * disconnects and reconnects, the messages it received and the acks it got.
 */
import { io, type Socket } from "socket.io-client";
import type { ClientToServerEvents, RoomMessage, ServerToClientEvents } from "@sala/protocol";

export type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

export interface TestClient {
  username: string;
  cookie: string;
  socket: ClientSocket;
  /** The room this client is in (sent in the handshake's auth at every reconnect). */
  roomId: string | null;
  received: RoomMessage[];
  disconnectedAt: number[];
  connectedAt: number[];
}

export const PASSWORD = "correct horse battery";

/** Node settings for crashes under load: a dead node is swept within ~5 s; load users register and send freely. */
export const FAST_FAILOVER_ENV = { HEARTBEAT_INTERVAL_MS: "1000", NODE_TTL_MS: "4000", REGISTRATIONS_PER_IP: "100000", SOCKET_EVENTS_PER_SEC: "100" };

export async function registerAndLogin(baseUrl: string, username: string): Promise<string> {
  const post = (path: string) =>
    fetch(`${baseUrl}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username, password: PASSWORD }) });
  const registered = await post("/register");
  if (registered.status !== 201) throw new Error(`register ${username}: ${registered.status} ${await registered.text()}`);
  const login = await post("/login");
  const cookie = login.headers.get("set-cookie")?.split(";")[0];
  if (!login.ok || !cookie) throw new Error(`login ${username}: ${login.status}`);
  return cookie;
}

/** A client that reconnects by itself (like the web client), quickly. */
export async function connectClient(baseUrl: string, username: string, cookie: string): Promise<TestClient> {
  const client: TestClient = { username, cookie, socket: undefined as never, roomId: null, received: [], disconnectedAt: [], connectedAt: [] };
  client.socket = io(baseUrl, {
    transports: ["websocket"],
    extraHeaders: { cookie },
    reconnectionDelay: 250,
    reconnectionDelayMax: 2000,
    auth: (send) => send(client.roomId ? { rooms: [client.roomId] } : {}),
  });
  // Like the web client: keep messages in seq order exactly once, and fetch what was missed after
  // a reconnect or when a sequence number is skipped.
  const seen = new Set<number>();
  const keep = (message: RoomMessage) => {
    if (message.roomId !== client.roomId || seen.has(message.seq)) return;
    seen.add(message.seq);
    client.received.push(message);
  };
  const lastSeq = () => client.received.reduce((max, message) => Math.max(max, message.seq), 0);
  const backfill = async (afterSeq: number) => {
    if (!client.roomId) return;
    const page = await ask(client.socket, "history", { roomId: client.roomId, afterSeq, limit: 200 }).catch(() => null);
    for (const message of (page?.messages ?? []) as RoomMessage[]) keep(message);
  };
  client.socket.on("text", (message) => {
    const last = lastSeq();
    keep(message);
    if (last > 0 && message.seq > last + 1) void backfill(last); // from before the jump
  });
  client.socket.on("disconnect", () => client.disconnectedAt.push(Date.now()));
  // A handshake refused by a server middleware (a draining node) is not retried by Socket.IO.
  client.socket.on("connect_error", (error) => {
    if (!client.socket.active && error.message === "UNAVAILABLE") setTimeout(() => client.socket.connect(), 500);
  });
  client.socket.on("connect", () => {
    client.connectedAt.push(Date.now());
    if (client.connectedAt.length > 1) void backfill(lastSeq());
  });
  await new Promise<void>((resolve, reject) => {
    client.socket.once("connect", () => resolve());
    client.socket.once("connect_error", reject);
  });
  return client;
}

export function ask(socket: ClientSocket, event: string, payload: unknown, timeoutMs = 10_000): Promise<any> {
  return (socket.timeout(timeoutMs) as any).emitWithAck(event, payload);
}

/**
 * Every entry of a lobby list whose names start with `prefix`, page after page (`lobby_users` →
 * usernames, `lobby_rooms` → room summaries): the lobby's snapshot holds a first page only.
 */
export async function lobbyList(socket: ClientSocket, event: "lobby_users" | "lobby_rooms", prefix: string): Promise<any[]> {
  const all: any[] = [];
  let after: string | undefined;
  do {
    const page = await ask(socket, event, { prefix, ...(after ? { after } : {}) });
    if (!page.ok) throw new Error(`${event}: ${JSON.stringify(page.error)}`);
    all.push(...(event === "lobby_users" ? page.users : page.rooms));
    after = page.next ?? undefined;
  } while (after);
  return all;
}

/**
 * Sends a room message with an id, and sends it again (same id) when the answer is lost with a
 * closing connection: the server answers a repeated id with its first answer, so the message is
 * posted exactly once.
 */
export async function sendMessage(client: TestClient, msg: string, attempts = 4): Promise<any> {
  const id = Math.random().toString(36).slice(2, 14).padEnd(10, "0");
  let last: unknown;
  for (let attempt = 0; attempt < attempts; attempt++) {
    try {
      return await ask(client.socket, "text", { roomId: client.roomId, msg, id }, 5000);
    } catch (error) {
      last = error;
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
  }
  throw last;
}

/** Runs `task` over `items` with at most `limit` at once (registration hashes passwords). */
export async function inBatches<T, R>(items: T[], limit: number, task: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const index = next++;
        results[index] = await task(items[index]!);
      }
    }),
  );
  return results;
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

export interface PopulatedRooms {
  clients: TestClient[];
  /** Room id → the key its members got when they joined. */
  keys: Map<string, { id: number; key: string }>;
}

/**
 * `users` logged-in clients through `baseUrl`, split evenly into `rooms` public rooms that each
 * first member creates; every client has joined its room (and sends it in its handshake auth).
 */
export async function populateRooms(baseUrl: string, label: string, users: number, rooms: number): Promise<PopulatedRooms> {
  const run = Date.now().toString(36).slice(-5);
  const names = Array.from({ length: users }, (_, i) => `${label}${run}u${i}`);
  const cookies = await inBatches(names, 8, (name) => registerAndLogin(baseUrl, name));
  const clients = await inBatches(names, 10, (name) => connectClient(baseUrl, name, cookies[names.indexOf(name)]!));
  const keys = new Map<string, { id: number; key: string }>();
  const perRoom = users / rooms;
  for (let r = 0; r < rooms; r++) {
    const members = clients.slice(r * perRoom, (r + 1) * perRoom);
    const created = await ask(members[0]!.socket, "create_room", { name: `${label} ${run} ${r}` });
    if (!created.ok) throw new Error(`create_room: ${JSON.stringify(created)}`);
    for (const client of members) {
      const joined = await ask(client.socket, "join_room", { roomId: created.room.id });
      if (!joined.ok) throw new Error(`join_room: ${JSON.stringify(joined)}`);
      client.roomId = created.room.id;
      keys.set(created.room.id, joined.key);
    }
  }
  return { clients, keys };
}
