/** The loss and duplicate counting every load verdict rests on, and the percentiles it reports. */
import { describe, expect, it } from "vitest";
import { DeliveryLedger } from "../src/delivery-ledger.js";
import { openPayload, sealPayload } from "../src/chat-payload.js";
import { Samples } from "../src/stats.js";

describe("DeliveryLedger", () => {
  it("counts every acknowledged message a member did not receive, and every second copy", () => {
    const ledger = new DeliveryLedger();
    ledger.expect("a", "r1");
    ledger.expect("b", "r1");
    for (const seq of [1, 2, 3]) ledger.acknowledged("r1", seq);
    for (const seq of [1, 2, 3]) ledger.delivered("a", "r1", seq);
    ledger.delivered("b", "r1", 1);
    expect(ledger.delivered("b", "r1", 1)).toBe(false);
    ledger.delivered("b", "r1", 3);
    expect(ledger.expected()).toBe(6);
    expect(ledger.deliveries).toBe(5);
    expect(ledger.missing()).toBe(1); // b never got 2
    expect(ledger.duplicates).toBe(1);
  });

  it("ignores rooms a receiver is not tracked in, seqs before its start, and forgets on reset", () => {
    const ledger = new DeliveryLedger();
    ledger.expect("a", "r1", 10);
    ledger.acknowledged("r1", 9);
    ledger.acknowledged("r1", 11);
    expect(ledger.delivered("x", "r1", 11)).toBe(true);
    expect(ledger.expected()).toBe(1); // only 11: 9 was before a's start
    expect(ledger.missing()).toBe(1);
    ledger.delivered("a", "r1", 11);
    expect(ledger.missing()).toBe(0);
    ledger.reset();
    expect([ledger.expected(), ledger.deliveries, ledger.duplicates, ledger.missing()]).toEqual([0, 0, 0, 0]);
  });
});

describe("chat payload", () => {
  const key = { id: 3, key: Buffer.alloc(32, 7).toString("base64") };

  it("carries the send time and counter through the envelope, padded to a fixed size", () => {
    const sealed = sealPayload({ sentAt: 1_700_000_000_123, n: 42 }, "room-1", key);
    expect(sealed.startsWith("v1.3.")).toBe(true);
    expect(openPayload(sealed, "room-1", new Map([[3, key.key]]))).toEqual({ sentAt: 1_700_000_000_123, n: 42 });
    expect(sealPayload({ sentAt: 1, n: 1 }, "room-1", key).length).toBe(sealed.length);
  });

  it("yields nothing for another room's scope or an unknown key", () => {
    const sealed = sealPayload({ sentAt: 1, n: 1 }, "room-1", key);
    expect(openPayload(sealed, "room-2", new Map([[3, key.key]]))).toBeNull();
    expect(openPayload(sealed, "room-1", new Map())).toBeNull();
  });
});

describe("Samples", () => {
  it("gives nearest-rank percentiles", () => {
    const samples = new Samples();
    for (let i = 100; i >= 1; i--) samples.add(i);
    expect([samples.percentile(50), samples.percentile(99), samples.max(), samples.count]).toEqual([50, 99, 100, 100]);
    expect(new Samples().percentile(50)).toBeNaN();
  });
});
