import { Type } from "@sinclair/typebox";
import { ErrorCode, type Ack } from "@sala/protocol";
import { afterEach, describe, expect, it, vi } from "vitest";
import { pino } from "pino";
import { createLogger, type Logger } from "../src/logger.js";
import { compileEvent, EventGate, FloodRule } from "../src/realtime/event-gate.js";
import type { SalaSocket } from "../src/realtime/types.js";

/**
 * A socket as far as the gate needs one: its connection's `packet` listener and one catch-all
 * listener, which `send` calls in that order for each frame, as engine.io and Socket.IO do.
 */
function fakeSocket() {
  let listener: (event: string, ...args: unknown[]) => void = () => {};
  let onPacket: (packet: { type: string }) => void = () => {};
  const state = { connected: true, disconnects: 0 };
  const socket = {
    id: "sock-1",
    get connected() {
      return state.connected;
    },
    disconnect: () => {
      state.connected = false;
      state.disconnects++;
    },
    conn: { on: (name: string, fn: typeof onPacket) => name === "packet" && (onPacket = fn) },
    onAny: (fn: typeof listener) => (listener = fn),
    data: { username: "ana" },
  } as unknown as SalaSocket;
  const send = (event: string) =>
    new Promise<Ack>((resolve) => {
      onPacket({ type: "message" });
      listener(event, {}, resolve);
    });
  /** An event without an ack: nothing comes back. */
  const fire = (event: string) => {
    onPacket({ type: "message" });
    listener(event, {});
  };
  /** A frame Socket.IO never hands to the event listeners (an ack for nothing, an attachment). */
  const frame = () => onPacket({ type: "message" });
  return { socket, send, fire, frame, state };
}

function gate(eventsPerSecond: number, logger: Logger = createLogger("n1", "silent")) {
  const table = {
    ping: compileEvent(Type.Object({}), async () => ({})),
    typing: compileEvent(Type.Object({}), async () => ({}), true),
  };
  return new EventGate(table, eventsPerSecond, logger);
}

/** A logger that keeps its lines. */
function capturingLogger() {
  const lines: any[] = [];
  const logger = pino({ level: "info" }, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { logger, lines };
}

describe("the event budget", () => {
  afterEach(() => vi.useRealTimers());

  it("answers RATE_LIMITED past the budget, with the wait until the next window, and lets events through again then", async () => {
    vi.useFakeTimers({ now: 1_000_000, toFake: ["Date"] });
    const events = gate(3);
    const { socket, send } = fakeSocket();
    events.attach(socket);

    const first = await Promise.all([send("ping"), send("ping"), send("ping"), send("ping")]);
    expect(first.slice(0, 3)).toEqual([{ ok: true }, { ok: true }, { ok: true }]);
    expect(first[3]).toEqual({ ok: false, error: { code: ErrorCode.RATE_LIMITED, message: expect.any(String), retryAfterMs: 1000 } });

    vi.setSystemTime(1_000_400);
    expect(await send("ping")).toMatchObject({ ok: false, error: { code: ErrorCode.RATE_LIMITED, retryAfterMs: 600 } });
    // Unknown events spend the budget too: after the window, two pings and one unknown event fit.
    vi.setSystemTime(1_001_000);
    expect(await Promise.all([send("ping"), send("nonsense"), send("ping"), send("ping")])).toEqual([
      { ok: true },
      { ok: false, error: { code: ErrorCode.UNKNOWN_EVENT, message: "Unknown event" } },
      { ok: true },
      { ok: false, error: { code: ErrorCode.RATE_LIMITED, message: expect.any(String), retryAfterMs: 1000 } },
    ]);
  });

  it("keeps a budget per socket", async () => {
    const events = gate(1);
    const ana = fakeSocket();
    const bia = fakeSocket();
    events.attach(ana.socket);
    events.attach(bia.socket);
    expect(await ana.send("ping")).toEqual({ ok: true });
    expect(await bia.send("ping")).toEqual({ ok: true });
    expect(await ana.send("ping")).toMatchObject({ ok: false, error: { code: ErrorCode.RATE_LIMITED } });
  });

  it("counts every event against the budget, first: requests without an ack, signals, unknown events", async () => {
    vi.useFakeTimers({ now: 1_000_000, toFake: ["Date"] });
    const events = gate(4);
    const { socket, send, fire } = fakeSocket();
    events.attach(socket);
    fire("ping"); // a request without an ack: dropped, but paid for
    fire("typing");
    fire("nonsense");
    expect(await send("ping")).toEqual({ ok: true });
    expect(await send("ping")).toMatchObject({ ok: false, error: { code: ErrorCode.RATE_LIMITED, retryAfterMs: 1000 } });
    vi.setSystemTime(1_001_000);
    expect(await send("ping")).toEqual({ ok: true });
  });

  it("counts frames that are no event (an ack for nothing, an attachment) towards flooding", () => {
    vi.useFakeTimers({ now: 1_000_000, toFake: ["Date"] });
    const events = gate(5);
    const { socket, frame, state } = fakeSocket();
    events.attach(socket);
    for (let i = 0; i < 5 * FloodRule.FLOOD_FACTOR; i++) frame();
    expect(state.connected).toBe(false);
  });

  it(`disconnects a socket that sends ${FloodRule.FLOOD_FACTOR}x its budget within one window, and says so in the log`, () => {
    vi.useFakeTimers({ now: 1_000_000, toFake: ["Date"] });
    const { logger, lines } = capturingLogger();
    const events = gate(5, logger);
    const { socket, fire, state } = fakeSocket();
    events.attach(socket);
    for (let i = 0; i < 5 * FloodRule.FLOOD_FACTOR - 1; i++) fire("typing");
    expect(state.connected).toBe(true);
    fire("typing");
    expect(state).toEqual({ connected: false, disconnects: 1 });
    const warned = lines.filter((line) => line.event === "socket_flood_disconnected");
    expect(warned).toEqual([expect.objectContaining({ level: 40, user: "ana", socket: "sock-1", budget: 5 })]);
    expect(JSON.stringify(warned)).not.toContain("typing"); // never the payload or the events
  });

  it(`disconnects a socket over twice its budget ${FloodRule.OVER_BUDGET_WINDOWS} windows in a row, never one that slows down`, () => {
    vi.useFakeTimers({ now: 1_000_000, toFake: ["Date"] });
    const events = gate(5);
    const flooder = fakeSocket();
    const bursty = fakeSocket();
    events.attach(flooder.socket);
    events.attach(bursty.socket);
    for (let window = 0; window < FloodRule.OVER_BUDGET_WINDOWS; window++) {
      vi.setSystemTime(1_000_000 + window * 1000);
      for (let i = 0; i < 11; i++) flooder.fire("typing");
      // Over its budget every window too, but refused no more than it was let through.
      for (let i = 0; i < 10; i++) bursty.fire("typing");
    }
    expect(flooder.state.connected).toBe(true); // the last window is judged when it ends
    vi.setSystemTime(1_000_000 + FloodRule.OVER_BUDGET_WINDOWS * 1000);
    flooder.fire("typing");
    bursty.fire("typing");
    expect(flooder.state.connected).toBe(false);
    expect(bursty.state.connected).toBe(true);
  });

  it("forgets a run of flooded windows after a quiet one", () => {
    vi.useFakeTimers({ now: 1_000_000, toFake: ["Date"] });
    const events = gate(5);
    const { socket, fire, state } = fakeSocket();
    events.attach(socket);
    const windowStarts = [0, 1000, 3000, 4000]; // 2000–3000: nothing sent
    for (const start of windowStarts) {
      vi.setSystemTime(1_000_000 + start);
      for (let i = 0; i < 11; i++) fire("typing");
    }
    vi.setSystemTime(1_005_000);
    fire("typing");
    expect(state.connected).toBe(true);
  });
});
