/**
 * A minimal Socket.IO v5 (over Engine.IO v4) client for load tests, written against the standard
 * WebSocket API only, so the same code runs under Node (`ws`, see node-socket.ts) and under k6
 * (`k6/websockets`). Websocket transport only: no polling, no upgrade, no binary, no reconnection
 * (a load scenario decides itself when to reconnect and backfills with `history`).
 *
 * Framing, one packet per websocket text frame. The first character is the Engine.IO type:
 *   0{"sid":..,"pingInterval":..,"pingTimeout":..}  open (server → client, first frame)
 *   1 close · 2 ping (server → client) · 3 pong (client → server, at once) · 4<socket.io packet>
 * A Socket.IO packet follows the 4: its type digit, for the main namespace no "/nsp," part, an
 * optional ack id (decimal digits), then JSON:
 *   40{auth}        connect (client)          40{"sid":..}          connected (server)
 *   44{"message":..} connect_error (server)   41                    disconnect (either side)
 *   42["ev",data]   event                     42<id>["ev",data]     event that wants an ack
 *   43<id>[answer]  the ack answering event <id>
 */
import type { ClientToServerEvents, ServerToClientEvents } from "@sala/protocol";

/** What `ws` (wrapped, see node-socket.ts) and k6's `k6/websockets` WebSocket both provide. */
export interface WebSocketLike {
  send(data: string): void;
  close(): void;
  onopen: ((event?: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event?: unknown) => void) | null;
  onerror: ((event?: unknown) => void) | null;
}
export type WebSocketFactory = (url: string, headers: Record<string, string>) => WebSocketLike;

export interface SioOptions {
  /** The node or load balancer: http(s)://host[:port] or ws(s)://host[:port]. */
  baseUrl: string;
  /** The session cookie ("sala.sid=..."), sent with the upgrade request. */
  cookie?: string | null;
  /** Origin header (Sala refuses handshakes from origins not in ALLOWED_ORIGINS). */
  origin?: string | null;
  /** Handshake auth, sent in the connect packet (Sala: `{ rooms: [...] }` to rejoin after a reconnect). */
  auth?: object;
  connectTimeoutMs?: number;
}

type ServerEventName = keyof ServerToClientEvents & string;
type ClientEventName = keyof ClientToServerEvents & string;
type ServerPayload<E extends ServerEventName> = Parameters<ServerToClientEvents[E]>[0];
type ClientPayload<E extends ClientEventName> = Parameters<ClientToServerEvents[E]>[0];
/** The answer the server passes to the ack callback of a client event. */
export type AckOf<E extends ClientEventName> = Parameters<NonNullable<Parameters<ClientToServerEvents[E]>[1]>>[0];

interface Pending {
  resolve(answer: unknown): void;
  reject(error: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

export class SioClient {
  /** Resolves with the Socket.IO session id on `40`; rejects with the server's message on `44`. */
  readonly connected: Promise<string>;
  /** Resolves once, with the reason, when the connection ends (never rejects). */
  readonly closed: Promise<string>;
  private readonly ws: WebSocketLike;
  private readonly handlers = new Map<string, Set<(data: unknown) => void>>();
  private readonly pending = new Map<number, Pending>();
  private nextAckId = 0;
  private isClosed = false;
  private pingTimer: ReturnType<typeof setTimeout> | undefined;
  private pingDeadlineMs = 0;
  private settleConnect!: { resolve(sid: string): void; reject(error: Error): void };
  private settleClosed!: (reason: string) => void;

  /** Starts connecting at once: register `on` handlers before awaiting `connected` (the lobby snapshot follows `40` immediately). */
  constructor(factory: WebSocketFactory, private readonly options: SioOptions) {
    this.connected = new Promise((resolve, reject) => (this.settleConnect = { resolve, reject }));
    this.connected.catch(() => {}); // a caller that only awaits `closed` must not see an unhandled rejection
    this.closed = new Promise((resolve) => (this.settleClosed = resolve));
    const headers: Record<string, string> = {};
    if (options.cookie) headers.cookie = options.cookie;
    if (options.origin) headers.origin = options.origin;
    const url = `${options.baseUrl.replace(/^http/, "ws").replace(/\/$/, "")}/socket.io/?EIO=4&transport=websocket`;
    const timer = setTimeout(() => this.finish("connect timeout"), options.connectTimeoutMs ?? 10_000);
    this.connected.then(() => clearTimeout(timer), () => clearTimeout(timer));
    this.ws = factory(url, headers);
    this.ws.onmessage = (event) => this.onFrame(typeof event.data === "string" ? event.data : String(event.data));
    this.ws.onclose = () => this.finish("transport close");
    this.ws.onerror = (event) => this.finish(`transport error${errorText(event)}`);
  }

  on<E extends ServerEventName>(event: E, handler: (data: ServerPayload<E>) => void): () => void {
    let set = this.handlers.get(event);
    if (!set) this.handlers.set(event, (set = new Set()));
    const h = handler as (data: unknown) => void;
    set.add(h);
    return () => set.delete(h);
  }

  /** The next `event` whose payload satisfies `predicate`, or a rejection after `timeoutMs`. */
  next<E extends ServerEventName>(event: E, predicate: (data: ServerPayload<E>) => boolean = () => true, timeoutMs = 5000): Promise<ServerPayload<E>> {
    return new Promise((resolve, reject) => {
      const off = this.on(event, (data) => {
        if (!predicate(data)) return;
        off();
        clearTimeout(timer);
        resolve(data);
      });
      const timer = setTimeout(() => (off(), reject(new Error(`timed out waiting for "${event}"`))), timeoutMs);
    });
  }

  /** Fire and forget: `42["event",data]`. */
  emit<E extends ClientEventName>(event: E, data: ClientPayload<E>): void {
    this.send(`42${JSON.stringify([event, data])}`);
  }

  /** `42<id>["event",data]`, resolved by the matching `43<id>[answer]`; ids are per connection, from 0. */
  request<E extends ClientEventName>(event: E, data: ClientPayload<E>, timeoutMs = 5000): Promise<AckOf<E>> {
    if (this.isClosed) return Promise.reject(new Error(`${event}: connection closed`));
    const id = this.nextAckId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${event}: no ack within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (answer: unknown) => void, reject, timer });
      this.send(`42${id}${JSON.stringify([event, data])}`);
    });
  }

  /** Leaves the namespace (`41`) and closes the websocket. */
  close(): Promise<string> {
    if (!this.isClosed) this.send("41");
    this.finish("io client disconnect");
    return this.closed;
  }

  private send(frame: string): void {
    if (!this.isClosed) this.ws.send(frame);
  }

  private onFrame(frame: string): void {
    switch (frame[0]) {
      case "0": {
        // Engine.IO open: the server pings every pingInterval and expects a pong within pingTimeout;
        // we also expect its pings, or consider the connection dead (as socket.io-client does).
        const open = JSON.parse(frame.slice(1)) as { pingInterval: number; pingTimeout: number };
        this.pingDeadlineMs = open.pingInterval + open.pingTimeout;
        this.armPingTimer();
        this.send(`40${this.options.auth ? JSON.stringify(this.options.auth) : ""}`);
        return;
      }
      case "1":
        return this.finish("transport close");
      case "2":
        this.armPingTimer();
        return this.send("3");
      case "4":
        return this.onPacket(frame.slice(1));
    }
  }

  private onPacket(packet: string): void {
    const type = packet[0];
    // Skip a namespace ("/admin,"); we only use the main one. Then read the ack id digits.
    let i = 1;
    if (packet[i] === "/") i = packet.indexOf(",", i) + 1 || packet.length;
    const start = i;
    while (i < packet.length && packet.charCodeAt(i) >= 48 && packet.charCodeAt(i) <= 57) i++;
    const id = i > start ? Number(packet.slice(start, i)) : null;
    const body: unknown = i < packet.length ? JSON.parse(packet.slice(i)) : undefined;
    switch (type) {
      case "0":
        return this.settleConnect.resolve((body as { sid: string }).sid);
      case "4": {
        const message = (body as { message?: string } | undefined)?.message ?? "connect_error";
        this.settleConnect.reject(new Error(message));
        return this.finish(`connect_error: ${message}`);
      }
      case "1":
        return this.finish("io server disconnect");
      case "2": {
        const [event, data] = body as [string, unknown];
        // Sala's server never asks the client for acks; answer an empty ack if it ever does.
        if (id !== null) this.send(`43${id}[]`);
        for (const handler of [...(this.handlers.get(event) ?? [])]) handler(data);
        return;
      }
      case "3": {
        const pending = id === null ? undefined : this.pending.get(id);
        if (!pending) return; // timed out already
        this.pending.delete(id!);
        clearTimeout(pending.timer);
        pending.resolve((body as unknown[])[0]);
        return;
      }
    }
  }

  private armPingTimer(): void {
    clearTimeout(this.pingTimer);
    this.pingTimer = setTimeout(() => this.finish("ping timeout"), this.pingDeadlineMs);
  }

  /** Ends everything once: the pending requests fail, `connected` (if pending) rejects, `closed` resolves. */
  private finish(reason: string): void {
    if (this.isClosed) return;
    this.isClosed = true;
    clearTimeout(this.pingTimer);
    this.settleConnect.reject(new Error(reason)); // no-op once connected
    for (const [id, pending] of this.pending) {
      clearTimeout(pending.timer);
      pending.reject(new Error(`request ${id}: ${reason}`));
    }
    this.pending.clear();
    try {
      this.ws.close();
    } catch {
      // already closed
    }
    this.settleClosed(reason);
  }
}

/**
 * Opens a client and waits for the Socket.IO connect. Sala refuses a handshake with UNAVAILABLE
 * while a node drains or Redis blips; like the web client, retry those a few times. `prepare` runs
 * on each new client before its connect completes: register handlers there (Sala sends the lobby
 * snapshot right after the connect).
 */
export async function connectClient(
  factory: WebSocketFactory,
  options: SioOptions,
  retry: { attempts?: number; prepare?: (client: SioClient) => void } = {},
): Promise<SioClient> {
  const { attempts = 5, prepare } = retry;
  for (let attempt = 1; ; attempt++) {
    const client = new SioClient(factory, options);
    prepare?.(client);
    try {
      await client.connected;
      return client;
    } catch (error) {
      if (attempt >= attempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
    }
  }
}

function errorText(event: unknown): string {
  const message = (event as { message?: unknown; error?: unknown } | undefined)?.message ?? (event as { error?: unknown } | undefined)?.error;
  return message ? `: ${String(message)}` : "";
}
