import { describe, expect, it, vi } from "vitest";

/** @node-rs/argon2 replaced by a stand-in that records how many computations run at once. */
const work = vi.hoisted(() => {
  const state = { running: 0, most: 0, finish: [] as Array<() => void> };
  const computation = <T>(result: T) =>
    new Promise<T>((resolve) => {
      state.running++;
      state.most = Math.max(state.most, state.running);
      state.finish.push(() => {
        state.running--;
        resolve(result);
      });
    });
  return { state, computation };
});

vi.mock("@node-rs/argon2", () => ({
  hash: () => work.computation("$argon2id$stand-in"),
  verify: () => work.computation(true),
  parseOptions: () => ({ algorithm: 2, version: 1, memoryCost: 19456, timeCost: 2, parallelism: 1 }),
}));

const { PasswordHasher } = await import("../src/auth/passwords.js");

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe("PasswordHasher", () => {
  it("runs at most `concurrency` hashes at once and the rest in turn, all answered", async () => {
    const hasher = new PasswordHasher({ memoryCost: 19456, timeCost: 2, parallelism: 1 }, 2);
    const answers = [hasher.verify("h", "a"), hasher.verify("h", "b"), hasher.hash("c"), hasher.verify("h", "d"), hasher.verifyNothing("e")];
    for (let round = 0; round < 10 && work.state.finish.length > 0; round++) {
      await settle();
      expect(work.state.running).toBeLessThanOrEqual(2);
      for (const finish of work.state.finish.splice(0)) finish();
    }
    await settle();
    while (work.state.finish.length > 0) {
      for (const finish of work.state.finish.splice(0)) finish();
      await settle();
    }
    const results = await Promise.all(answers);
    expect(results[0]).toEqual({ ok: true, needsRehash: false });
    expect(results[2]).toBe("$argon2id$stand-in");
    expect(results[4]).toEqual({ ok: false, needsRehash: false });
    expect(work.state.most).toBe(2);
  });
});
