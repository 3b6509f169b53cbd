import { describe, expect, it } from "vitest";
import { sharedRead } from "../src/realtime/shared-read.js";

/** A read whose calls are numbered and settled by hand. */
function manualRead() {
  const calls: Array<{ resolve: (value: number) => void; reject: (error: Error) => void }> = [];
  const read = () =>
    new Promise<number>((resolve, reject) => {
      calls.push({ resolve, reject });
    });
  return { calls, read };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe("sharedRead", () => {
  it("gives callers that ask during a read the next read, shared, never the one already under way", async () => {
    const { calls, read } = manualRead();
    const get = sharedRead(read);
    const first = get();
    const second = get();
    const third = get();
    expect(calls).toHaveLength(1); // the second read waits for the first to settle
    calls[0]!.resolve(1);
    expect(await first).toBe(1);
    await settle();
    expect(calls).toHaveLength(2);
    calls[1]!.resolve(2);
    expect(await second).toBe(2);
    expect(await third).toBe(2);
  });

  it("starts a fresh read once everything has settled", async () => {
    const { calls, read } = manualRead();
    const get = sharedRead(read);
    const first = get();
    calls[0]!.resolve(1);
    await first;
    const again = get();
    expect(calls).toHaveLength(2);
    calls[1]!.resolve(7);
    expect(await again).toBe(7);
  });

  it("keeps a failed read to its own callers", async () => {
    const { calls, read } = manualRead();
    const get = sharedRead(read);
    const first = get();
    const queued = get();
    calls[0]!.reject(new Error("redis down"));
    await expect(first).rejects.toThrow("redis down");
    await settle();
    calls[1]!.resolve(3);
    expect(await queued).toBe(3);

    const failing = get();
    const alsoFailing = get();
    calls[2]!.resolve(4);
    await settle();
    calls[3]!.reject(new Error("again"));
    expect(await failing).toBe(4);
    await expect(alsoFailing).rejects.toThrow("again");
  });
});

describe("sharedRead with spacing", () => {
  it("serves a lone caller at once, then gathers the callers of the next interval into one read", async () => {
    let reads = 0;
    const get = sharedRead(async () => ++reads, 40);
    const started = Date.now();
    expect(await get()).toBe(1); // nothing read lately: at once
    const burst = await Promise.all([get(), get(), get()]);
    expect(burst).toEqual([2, 2, 2]);
    expect(reads).toBe(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(38); // the second read waited for its slot
  });
});
