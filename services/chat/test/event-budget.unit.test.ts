import { Type } from "@sinclair/typebox";
import { ErrorCode, type Ack } from "@sala/protocol";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createLogger } from "../src/logger.js";
import { defineEvent, EventGate } from "../src/realtime/event-gate.js";
import type { SalaSocket } from "../src/realtime/types.js";

/** A socket as far as the gate needs one: it registers one catch-all listener, which `send` calls. */
function fakeSocket() {
  let listener: (event: string, ...args: unknown[]) => void = () => {};
  const socket = { onAny: (fn: typeof listener) => (listener = fn), data: { username: "ana" } } as unknown as SalaSocket;
  const send = (event: string) =>
    new Promise<Ack>((resolve) => {
      listener(event, {}, resolve);
    });
  return { socket, send };
}

function gate(eventsPerSecond: number) {
  const table = { ping: defineEvent(Type.Object({}), async () => ({})) };
  return new EventGate(table, eventsPerSecond, createLogger("n1", "silent"));
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
});
