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
  client.socket.on("text", (message) => client.received.push(message));
  client.socket.on("disconnect", () => client.disconnectedAt.push(Date.now()));
  client.socket.on("connect", () => client.connectedAt.push(Date.now()));
  await new Promise<void>((resolve, reject) => {
    client.socket.once("connect", () => resolve());
    client.socket.once("connect_error", reject);
  });
  return client;
}

export function ask(socket: ClientSocket, event: string, payload: unknown, timeoutMs = 10_000): Promise<any> {
  return (socket.timeout(timeoutMs) as any).emitWithAck(event, payload);
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
