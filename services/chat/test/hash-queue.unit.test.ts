import { describe, expect, it, vi } from "vitest";
import { ErrorCode } from "@sala/protocol";
import { AppError } from "../src/errors.js";
import { HASHES_PER_CALLER, HashQueue, type HashLane } from "../src/auth/hash-queue.js";

/** @node-rs/argon2 replaced by a stand-in whose every computation waits to be finished by the test. */
const argon = vi.hoisted(() => ({ pending: [] as Array<() => void>, fail: false }));
vi.mock("@node-rs/argon2", () => {
  const computation = <T>(result: T) =>
    new Promise<T>((resolve, reject) => argon.pending.push(() => (argon.fail ? reject(new Error("out of memory")) : resolve(result))));
  return {
    hash: () => computation("$argon2id$stand-in"),
    verify: () => computation(true),
    parseOptions: () => ({ algorithm: 2, version: 1, memoryCost: 19456, timeCost: 2, parallelism: 1 }),
  };
});
const { PasswordHasher } = await import("../src/auth/passwords.js");

const settle = () => new Promise((resolve) => setImmediate(resolve));

/** A queue whose jobs the test finishes by hand, recording the order they started in. */
function harness(concurrency: number, queueMax: number) {
  const queue = new HashQueue(concurrency, queueMax);
  const started: string[] = [];
  const finish = new Map<string, () => void>();
  const submit = (lane: HashLane, label: string, caller?: string) =>
    queue
      .run(
        lane,
        () =>
          new Promise<string>((resolve) => {
            started.push(label);
            finish.set(label, () => resolve(label));
          }),
        caller,
      )
      .then(
        (value) => ({ value }),
        (error: unknown) => ({ error }),
      );
  const done = async (label: string) => {
    finish.get(label)!();
    await settle();
  };
  return { queue, started, submit, done };
}

const busyWith = (outcome: { error: unknown } | { value: string }) => {
  const error = "error" in outcome ? outcome.error : null;
  expect(error).toBeInstanceOf(AppError);
  const body = (error as AppError).toBody();
  expect(body.code).toBe(ErrorCode.BUSY);
  expect(body.retryAfterMs).toBeGreaterThan(0);
};

describe("HashQueue", () => {
  it("runs `concurrency` hashes at once, account work before room passwords whatever the arrival order", async () => {
    const { started, submit, done } = harness(2, 10);
    const outcomes = [submit("room", "r1"), submit("room", "r2"), submit("room", "r3"), submit("room", "r4"), submit("account", "login")];
    await settle();
    expect(started).toEqual(["r1", "r2"]);
    await done("r1");
    expect(started).toEqual(["r1", "r2", "login"]); // ahead of r3 and r4, which came first
    for (const label of ["r2", "login"]) await done(label);
    expect(started).toEqual(["r1", "r2", "login", "r3", "r4"]);
    for (const label of ["r3", "r4"]) await done(label);
    expect((await Promise.all(outcomes)).map((outcome) => (outcome as { value: string }).value)).toEqual(["r1", "r2", "r3", "r4", "login"]);
  });

  it("answers BUSY at once when a lane's waiting line is full, and keeps the other lane open", async () => {
    const { started, submit, done } = harness(1, 2);
    const running = submit("room", "r1");
    const waiting = [submit("room", "r2"), submit("room", "r3")];
    busyWith(await submit("room", "r4")); // settles without any hash finishing
    const login = submit("account", "login");
    await done("r1");
    expect(started).toEqual(["r1", "login"]);
    for (const label of ["login", "r2", "r3"]) await done(label);
    expect(await running).toEqual({ value: "r1" });
    expect(await login).toEqual({ value: "login" });
    expect(await Promise.all(waiting)).toEqual([{ value: "r2" }, { value: "r3" }]);
  });

  it(`lets one caller have at most ${HASHES_PER_CALLER} hashes waiting or running in a lane`, async () => {
    const { submit, done } = harness(1, 100);
    const mine = Array.from({ length: HASHES_PER_CALLER }, (_, i) => submit("room", `m${i}`, "mallory"));
    busyWith(await submit("room", "one too many", "mallory"));
    const theirs = submit("room", "t0", "ana");
    await done("m0");
    const again = submit("room", "m-again", "mallory"); // a slot of hers came free
    for (const label of ["m1", "m2", "m3", "t0", "m-again"]) await done(label);
    expect((await Promise.all([...mine, theirs, again])).every((outcome) => "value" in outcome)).toBe(true);
  });

  it("frees the slot and the caller's share when a hash fails", async () => {
    const queue = new HashQueue(1, 0);
    await expect(queue.run("room", () => Promise.reject(new Error("boom")), "ana")).rejects.toThrow("boom");
    await expect(queue.run("room", async () => "next", "ana")).resolves.toBe("next");
  });
});

describe("PasswordHasher over the queue", () => {
  const params = { memoryCost: 19456, timeCost: 2, parallelism: 1 };

  it("gives room passwords their own lane behind logins, with the caller's share", async () => {
    const queue = new HashQueue(1, 1);
    const accounts = new PasswordHasher(params, queue);
    const rooms = accounts.forRoomPasswords();
    const first = rooms.hash("pw-1", "mallory");
    const second = rooms.verify("$argon2id$stand-in", "pw-2", "mallory");
    await expect(rooms.hash("pw-3", "mallory")).rejects.toMatchObject({ code: ErrorCode.BUSY });
    const login = accounts.verify("$argon2id$stand-in", "ana's password");
    for (let round = 0; round < 3; round++) {
      await settle();
      argon.pending.shift()?.();
    }
    await expect(first).resolves.toBe("$argon2id$stand-in");
    await expect(login).resolves.toEqual({ ok: true, needsRehash: false });
    await expect(second).resolves.toEqual({ ok: true, needsRehash: false });
  });

  it("does not keep a refused dummy hash: unknown-user logins work again once the queue has room", async () => {
    const queue = new HashQueue(1, 0);
    const hasher = new PasswordHasher(params, queue);
    const blocker = hasher.hash("someone else's");
    await expect(hasher.verifyNothing("guess")).rejects.toMatchObject({ code: ErrorCode.BUSY });
    await settle();
    argon.pending.shift()!();
    await blocker;
    const later = hasher.verifyNothing("guess");
    for (let round = 0; round < 3; round++) {
      await settle();
      argon.pending.shift()?.();
    }
    await expect(later).resolves.toEqual({ ok: false, needsRehash: false });
  });
});
