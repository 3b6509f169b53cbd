/**
 * A stand-in for socket.io-client's socket in the web client's unit tests: the test answers the
 * client's requests (`answer`), sees them (`requests`), and plays the server's events (`deliver`).
 * Used through vi.hoisted + vi.mock("socket.io-client"), so it imports nothing.
 */
type Handler = (payload: unknown) => void;

export class FakeSocket {
  readonly handlers = new Map<string, Handler[]>();
  connected = true;
  active = true;
  /** Every request, in the order the client made it. */
  readonly requests: { event: string; payload: Record<string, unknown> }[] = [];
  /** How the server answers a request; the test sets it. */
  answer: (event: string, payload: Record<string, unknown>) => Promise<unknown> = () => Promise.reject(new Error("no answer"));
  /** What `my_rooms` answers (asked at every connection): the rooms the user is a member of. */
  myRooms: unknown[] = [];

  on(event: string, handler: Handler): this {
    this.handlers.set(event, [...(this.handlers.get(event) ?? []), handler]);
    return this;
  }
  emit(): this {
    return this;
  }
  timeout() {
    return {
      emitWithAck: (event: string, payload: Record<string, unknown>) => {
        this.requests.push({ event, payload });
        if (event === "my_rooms") return Promise.resolve({ ok: true, rooms: this.myRooms });
        return this.answer(event, payload);
      },
    };
  }
  connect(): void {}
  close(): void {}
  /** The server sends `event` (or the client's own "connect"/"disconnect"). */
  deliver(event: string, payload?: unknown): void {
    if (event === "connect") this.connected = true;
    if (event === "disconnect") this.connected = false;
    for (const handler of this.handlers.get(event) ?? []) handler(payload);
  }
}
