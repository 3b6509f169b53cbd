import { Writable } from "node:stream";
import { pino } from "pino";
import { describe, expect, it, vi } from "vitest";

/** The node's logger, writing into a string instead of stdout. */
async function captured(): Promise<{ logger: import("pino").Logger; lines: () => string }> {
  let out = "";
  const sink = new Writable({ write: (chunk, _enc, done) => ((out += String(chunk)), done()) });
  vi.resetModules();
  vi.doMock("pino", () => ({ pino: (options: object) => pino(options, sink) }));
  const { createLogger } = await import("../src/logger.js");
  vi.doUnmock("pino");
  return { logger: createLogger("n1", "info"), lines: () => out };
}

describe("logger", () => {
  it("never writes a failed Redis command's arguments (a key or an envelope), nor key or message fields", async () => {
    const { logger, lines } = await captured();
    const err = Object.assign(new Error("ERR script failed"), { command: { name: "evalsha", args: ["sha", 2, "KEY-MATERIAL", "v1.1.ENVELOPE"] } });
    logger.error({ event: "handler_failed", err }, "event handler failed");
    logger.info({ key: "KEY-MATERIAL", room: { key: "KEY-MATERIAL" }, msg: { msg: "v1.1.ENVELOPE" } }, "careless");
    const text = lines();
    expect(text).toContain("handler_failed");
    expect(text).toContain("evalsha");
    expect(text).not.toContain("KEY-MATERIAL");
    expect(text).not.toContain("ENVELOPE");
  });
});
