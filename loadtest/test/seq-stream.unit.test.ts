/** The merge the resilient load clients' exactly-once, in-order verdict rests on. */
import { describe, expect, it } from "vitest";
import { SeqStream } from "../src/seq-stream.js";

describe("SeqStream", () => {
  it("hands messages on in seq order, holding those after a gap until it is filled", () => {
    const stream = new SeqStream();
    expect(stream.offer(1, "live")).toBe(true);
    expect(stream.offer(3, "live")).toBe(true);
    expect(stream.offer(4, "live")).toBe(true);
    expect([stream.lastSeq, stream.waiting, stream.delivered]).toEqual([1, 2, [1]]);
    expect(stream.offer(2, "backfill")).toBe(true);
    expect([stream.lastSeq, stream.waiting, stream.delivered]).toEqual([4, 0, [1, 2, 3, 4]]);
    expect([stream.live, stream.backfilled]).toEqual([3, 1]);
  });

  it("drops and counts a copy of a message already handed on or already waiting", () => {
    const stream = new SeqStream();
    stream.offer(1, "live");
    stream.offer(3, "live");
    expect(stream.offer(1, "backfill")).toBe(false); // handed on already
    expect(stream.offer(3, "backfill")).toBe(false); // waiting already
    stream.offer(2, "backfill");
    expect(stream.offer(2, "live")).toBe(false);
    expect(stream.duplicates).toBe(3);
    expect(stream.delivered).toEqual([1, 2, 3]);
  });
});
