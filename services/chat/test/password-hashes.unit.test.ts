import { describe, expect, it } from "vitest";
import { ErrorCode } from "@sala/protocol";
import { HashQueue } from "../src/auth/hash-queue.js";
import { PasswordHasher } from "../src/auth/passwords.js";

const PASSWORD = "correct horse battery staple";
const OWASP_MINIMUM = { memoryCost: 19456, timeCost: 2, parallelism: 1 };

/** Made by the `argon2` package (0.44), which Sala used before: hashes already stored in Redis. */
const STORED_BY_OLD_LIBRARY = "$argon2id$v=19$m=19456,t=2,p=1$SVo9/8X83ri5M0hc3ByC6w$M5ZvySdu7y4fIkBYa0Ql5T5cvryQLQsqhlXhetm62Uk";
const ARGON2I_BY_OLD_LIBRARY = "$argon2i$v=19$m=19456,t=2,p=1$vLWMFr9Dh5OkpQhmb0dszA$3oRpGXDm+x3GX8NuIHB6riIKyuKT3MS1FM0mznuxk7U";

describe("PasswordHasher with the real argon2id", () => {
  const hasher = new PasswordHasher(OWASP_MINIMUM, 2);

  it("writes a salted argon2id v1.3 PHC string with the configured parameters", async () => {
    const first = await hasher.hash(PASSWORD);
    expect(first).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    expect(await hasher.hash(PASSWORD)).not.toBe(first); // a fresh salt each time
    expect(await hasher.verify(first, PASSWORD)).toEqual({ ok: true, needsRehash: false });
    expect(await hasher.verify(first, `${PASSWORD}!`)).toEqual({ ok: false, needsRehash: false });
  });

  it("verifies hashes stored by the previous library, without asking for a rehash", async () => {
    expect(await hasher.verify(STORED_BY_OLD_LIBRARY, PASSWORD)).toEqual({ ok: true, needsRehash: false });
    expect(await hasher.verify(STORED_BY_OLD_LIBRARY, "correct horse battery stapler")).toEqual({ ok: false, needsRehash: false });
  });

  it("asks for a rehash after a correct password when the hash was made otherwise", async () => {
    const stronger = new PasswordHasher({ ...OWASP_MINIMUM, timeCost: 3 }, 1);
    expect(await stronger.verify(STORED_BY_OLD_LIBRARY, PASSWORD)).toEqual({ ok: true, needsRehash: true });
    expect(await stronger.verify(STORED_BY_OLD_LIBRARY, "wrong")).toEqual({ ok: false, needsRehash: false });
    const moreMemory = new PasswordHasher({ ...OWASP_MINIMUM, memoryCost: 32768 }, 1);
    expect((await moreMemory.verify(STORED_BY_OLD_LIBRARY, PASSWORD)).needsRehash).toBe(true);
    // Another argon2 variant at the same parameters is upgraded to argon2id.
    expect(await hasher.verify(ARGON2I_BY_OLD_LIBRARY, PASSWORD)).toEqual({ ok: true, needsRehash: true });
  });

  it("never authenticates against a corrupt stored hash", async () => {
    for (const corrupt of ["", "plaintext", "$argon2id$v=19$m=19456,t=2,p=1$", STORED_BY_OLD_LIBRARY.slice(0, -4)]) {
      expect(await hasher.verify(corrupt, PASSWORD), corrupt).toEqual({ ok: false, needsRehash: false });
    }
  });

  it("spends a verification on unknown users and always refuses", async () => {
    expect(await hasher.verifyNothing(PASSWORD)).toEqual({ ok: false, needsRehash: false });
  });

  it("refuses room-password work beyond its lane's bound at once, while a login still gets through first", async () => {
    const accounts = new PasswordHasher(OWASP_MINIMUM, new HashQueue(1, 2));
    const rooms = accounts.forRoomPasswords();
    const finished: string[] = [];
    const track = <T>(label: string, work: Promise<T>) =>
      work.then(
        (value) => (finished.push(label), value),
        (error: { code?: string }) => error.code,
      );
    const roomWork = Array.from({ length: 6 }, (_, i) => track(`room ${i}`, rooms.hash(`room password ${i}`)));
    const stored = await accounts.hash(PASSWORD); // queued after the rooms' hashes, run before them
    const login = await track("login", accounts.verify(stored, PASSWORD));
    expect(login).toEqual({ ok: true, needsRehash: false });
    const outcomes = await Promise.all(roomWork);
    // One running and two waiting were taken; the other three were refused without waiting.
    expect(outcomes.filter((outcome) => outcome === ErrorCode.BUSY)).toHaveLength(3);
    expect(finished.indexOf("login")).toBeLessThan(finished.indexOf("room 2"));
  });
});
