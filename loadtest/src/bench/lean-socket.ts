/**
 * An idle lobby socket for the scale benches, as lean as a websocket client can be: it does the
 * real Socket.IO handshake (websocket transport with the session cookie and Origin, `40`, pongs
 * the server's pings), then only counts what the server sends it — frames and payload bytes of
 * every server→client packet, whatever the event — and notes the first `lobby` event (the
 * snapshot: its size and when it came). It never parses a payload, so it stays correct while the
 * lobby's events and shapes change, and 12,000 of them cost a generator little CPU. Chat needs the
 * full client (sio-client.ts).
 */
import WebSocket from "ws";

/** `42["lobby",` : the event the server greets a new socket with (the snapshot). */
const LOBBY_PREFIX = Buffer.from('42["lobby",');
const CHAR_OPEN = "0".charCodeAt(0);
const CHAR_PING = "2".charCodeAt(0);
const CHAR_MESSAGE = "4".charCodeAt(0);

export interface LeanSocketOptions {
  url: string;
  cookie: string | null;
  origin: string;
  connectTimeoutMs?: number;
  /** Local address to connect from (127.0.0.x spreads sockets over more source addresses). */
  localAddress?: string;
}

export class LeanSocket {
  /** Server→client websocket frames and their payload bytes, since the socket was opened. */
  frames = 0;
  bytes = 0;
  /** performance.now() at creation, at the Socket.IO connect, and at the first `lobby` event. */
  readonly startedAt = performance.now();
  connectedAt = Number.NaN;
  lobbyAt = Number.NaN;
  lobbyBytes = Number.NaN;
  /** Resolves at the Socket.IO connect (`40`); rejects on a refusal (`44`), a close or the timeout. */
  readonly connected: Promise<void>;
  /** Resolves at the first `lobby` event (never rejects: a socket closed before it leaves it pending). */
  readonly lobby: Promise<void>;
  /** Resolves once the websocket is closed, with the reason. */
  readonly closed: Promise<string>;
  private readonly ws: WebSocket;
  private settle!: { resolve(): void; reject(error: Error): void };
  private lobbySeen!: () => void;
  private done!: (reason: string) => void;
  private ended = false;

  constructor(options: LeanSocketOptions) {
    this.connected = new Promise((resolve, reject) => (this.settle = { resolve, reject }));
    this.connected.catch(() => undefined);
    this.lobby = new Promise((resolve) => (this.lobbySeen = resolve));
    this.closed = new Promise((resolve) => (this.done = resolve));
    const headers: Record<string, string> = { origin: options.origin };
    if (options.cookie) headers.cookie = options.cookie;
    const url = `${options.url.replace(/^http/, "ws").replace(/\/$/, "")}/socket.io/?EIO=4&transport=websocket`;
    this.ws = new WebSocket(url, {
      headers,
      perMessageDeflate: false,
      skipUTF8Validation: true, // nothing is decoded but the few first bytes
      handshakeTimeout: options.connectTimeoutMs ?? 20_000,
      ...(options.localAddress ? { localAddress: options.localAddress } : {}),
    });
    const timer = setTimeout(() => this.end(`connect timeout`), options.connectTimeoutMs ?? 20_000);
    this.connected.then(
      () => clearTimeout(timer),
      () => clearTimeout(timer),
    );
    this.ws.on("message", (data: Buffer) => this.onFrame(data));
    this.ws.on("close", (code) => this.end(`closed (${code})`));
    this.ws.on("error", (error) => this.end(`error: ${error.message}`));
  }

  get isOpen(): boolean {
    return !this.ended && !Number.isNaN(this.connectedAt);
  }

  /** Closes the websocket (the server sees a transport close, as when a tab goes away). */
  close(): Promise<string> {
    this.end("client close");
    return this.closed;
  }

  private onFrame(data: Buffer): void {
    this.frames++;
    this.bytes += data.length;
    const type = data[0];
    if (type === CHAR_PING) return this.ws.send("3");
    if (type === CHAR_OPEN) return this.ws.send("40");
    if (type !== CHAR_MESSAGE) return;
    // A Socket.IO packet: "40{...}" connected, "44{...}" refused, "42[...]" an event.
    const packet = data[1];
    if (packet === CHAR_OPEN) {
      this.connectedAt = performance.now();
      this.settle.resolve();
    } else if (packet === "4".charCodeAt(0)) {
      this.settle.reject(new Error(`refused: ${data.subarray(2, 200).toString()}`));
      this.end("refused");
    } else if (Number.isNaN(this.lobbyAt) && data.length >= LOBBY_PREFIX.length && data.subarray(0, LOBBY_PREFIX.length).equals(LOBBY_PREFIX)) {
      this.lobbyAt = performance.now();
      this.lobbyBytes = data.length;
      this.lobbySeen();
    }
  }

  private end(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    this.settle.reject(new Error(reason));
    try {
      this.ws.terminate();
    } catch {
      // already gone
    }
    this.done(reason);
  }
}
