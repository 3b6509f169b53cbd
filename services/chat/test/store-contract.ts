/**
 * The behaviour every Stores implementation must have. Run against the memory stores
 * (stores-memory.unit.test.ts) and the Redis stores on a real redis-server (stores-redis.int.test.ts).
 */
import { randomBytes } from "node:crypto";
import { beforeEach, describe, expect, it } from "vitest";
import { ErrorCode } from "@sala/protocol";
import { MAX_BARRED_PER_ROOM, type RoomRecord, type Stores } from "../src/stores/types.js";

const key = () => randomBytes(32).toString("base64");
const roomId = () => randomBytes(12).toString("base64url");
const msg = (room: string, keyId: number, ts: number) => ({ roomId: room, keyId, from: "ana", ts, msg: "v1.x" });
/** A history cap of `maxMessages`, and an age cap of `maxAgeMs` (0: none). */
const cap = (maxMessages: number, maxAgeMs = 0) => ({ maxMessages, maxAgeMs });
const DAY = 86_400_000;

function room(overrides: Partial<RoomRecord> = {}): RoomRecord {
  return { id: roomId(), name: `room ${randomBytes(3).toString("hex")}`, owner: "ana", passwordHash: null, createdAt: Date.now(), ...overrides };
}

export function describeStoreContract(kind: string, makeStores: () => Promise<Stores>): void {
  describe(`store contract: ${kind}`, () => {
    let stores: Stores;
    beforeEach(async () => {
      stores = await makeStores();
    });
    /** A room whose member "ana" (the sender of `msg`) may post. */
    const createWithSender = async (r: RoomRecord, firstKey: { id: number; key: string }) => {
      await stores.rooms.create(r, firstKey, 0);
      await stores.rooms.admit(r.id, "ana", null);
    };

    describe("users", () => {
      it("creates a user once, case-insensitively, and reads it back by any case", async () => {
        expect(await stores.users.create({ username: "Ana", passwordHash: "h1", createdAt: 1 })).toBe(true);
        expect(await stores.users.create({ username: "ANA", passwordHash: "h2", createdAt: 2 })).toBe(false);
        expect(await stores.users.get("aNa")).toEqual({ username: "Ana", passwordHash: "h1", createdAt: 1 });
        expect(await stores.users.get("bruno")).toBeNull();
      });

      it("replaces a password hash, setting, clearing or keeping the must-change flag; never for an unknown user", async () => {
        await stores.users.create({ username: "bia", passwordHash: "old", createdAt: 1 });
        expect(await stores.users.setPasswordHash("BIA", "new")).toBe(true);
        expect((await stores.users.get("bia"))?.passwordHash).toBe("new");
        expect(await stores.users.setPasswordHash("bia", "reset", true)).toBe(true);
        expect(await stores.users.account("bia")).toMatchObject({ passwordHash: "reset", mustChangePassword: true });
        await stores.users.setPasswordHash("bia", "rehashed"); // a rehash at login keeps the flag
        expect((await stores.users.account("bia"))?.mustChangePassword).toBe(true);
        await stores.users.setPasswordHash("bia", "chosen", false);
        expect((await stores.users.account("bia"))?.mustChangePassword).toBe(false);
        expect(await stores.users.setPasswordHash("nobody", "x", true)).toBe(false);
        expect(await stores.users.get("nobody")).toBeNull();
      });

      it("replaces a hash only over the one expected, and ends older sessions, never moving that time back", async () => {
        await stores.users.create({ username: "dino", passwordHash: "one", createdAt: 1 });
        expect(await stores.users.setPasswordHash("dino", "two", false, { expectedHash: "stale" })).toBe(false);
        expect((await stores.users.get("dino"))?.passwordHash).toBe("one");
        expect(await stores.users.setPasswordHash("dino", "two", false, { expectedHash: "one", sessionsNotBefore: 500 })).toBe(true);
        expect(await stores.users.account("dino")).toMatchObject({ passwordHash: "two", sessionsNotBefore: 500 });
        expect(await stores.users.endSessionsBefore("dino", 400)).toBe(true);
        expect((await stores.users.account("dino"))?.sessionsNotBefore).toBe(500);
        expect(await stores.users.endSessionsBefore("DINO", 900)).toBe(true);
        expect((await stores.users.account("dino"))?.sessionsNotBefore).toBe(900);
        expect(await stores.users.endSessionsBefore("nobody", 900)).toBe(false);
        expect(await stores.users.account("nobody")).toBeNull();
      });

      it("reads an account's role and status, locks and unlocks it, and notes when it was seen", async () => {
        await stores.users.create({ username: "Caio", passwordHash: "h", createdAt: 5 });
        expect(await stores.users.account("caio")).toEqual({
          username: "Caio", passwordHash: "h", createdAt: 5, admin: false, lockedAt: 0, mustChangePassword: false, lastLoginAt: 0, lastSeenAt: 0, sessionsNotBefore: 0,
        });
        expect(await stores.users.setLocked("CAIO", true, 1000)).toBe(true);
        await stores.users.setAdmin("caio", true);
        await stores.users.recordSeen("caio", 2000, true);
        await stores.users.recordSeen("caio", 3000, false);
        expect(await stores.users.account("caio")).toMatchObject({ admin: true, lockedAt: 1000, lastLoginAt: 2000, lastSeenAt: 3000, sessionsNotBefore: 1000 });
        // Locked again: "locked since" stays, the sessions since end too.
        expect(await stores.users.setLocked("caio", true, 1500)).toBe(true);
        expect(await stores.users.account("caio")).toMatchObject({ lockedAt: 1000, sessionsNotBefore: 1500 });
        expect(await stores.users.setLocked("caio", false, 4000)).toBe(true);
        expect((await stores.users.account("caio"))?.lockedAt).toBe(0);
        expect(await stores.users.setLocked("nobody", true, 1)).toBe(false);
        await stores.users.recordSeen("nobody", 1, true);
        expect(await stores.users.account("nobody")).toBeNull();
      });

      it("lists accounts' name keys by name in pages and by prefix, and counts them", async () => {
        for (const username of ["dora", "Davi", "Ana", "duda", "Bia"]) await stores.users.create({ username, passwordHash: "h", createdAt: 1 });
        const first = await stores.users.directory({ prefix: "", after: null, limit: 3 });
        expect(first).toEqual({ items: ["ana", "bia", "davi"], next: "davi" });
        expect(await stores.users.directory({ prefix: "", after: first.next, limit: 3 })).toEqual({ items: ["dora", "duda"], next: null });
        expect(await stores.users.directory({ prefix: "do", after: null, limit: 3 })).toEqual({ items: ["dora"], next: null });
        expect(await stores.users.count()).toBe(5);
      });

      it("deletes an account: it can no longer be read, its name is free again, it leaves the directory", async () => {
        await stores.users.create({ username: "Eva", passwordHash: "h", createdAt: 1 });
        await stores.users.create({ username: "fabio", passwordHash: "h", createdAt: 1 });
        await stores.sessionIndex.add("eva", { id: "s1", loginAt: 10 }, 0);
        expect(await stores.users.delete("EVA")).toBe(true);
        expect(await stores.users.account("eva")).toBeNull();
        expect(await stores.sessionIndex.list("eva")).toEqual([]);
        expect((await stores.users.directory({ prefix: "", after: null, limit: 10 })).items).toEqual(["fabio"]);
        expect(await stores.users.count()).toBe(1);
        expect(await stores.users.delete("eva")).toBe(false);
        // The name, and names that look like it, may be registered again.
        expect(await stores.users.create({ username: "eva", passwordHash: "h2", createdAt: 2 })).toBe(true);
      });
    });

    describe("session index", () => {
      it("keeps each user's sessions by login time and forgets those past the absolute timeout", async () => {
        await stores.sessionIndex.add("Ana", { id: "s2", loginAt: 200 }, 0);
        await stores.sessionIndex.add("ana", { id: "s1", loginAt: 100 }, 0);
        await stores.sessionIndex.add("bia", { id: "s9", loginAt: 100 }, 0);
        expect(await stores.sessionIndex.list("ANA")).toEqual([{ id: "s1", loginAt: 100 }, { id: "s2", loginAt: 200 }]);
        await stores.sessionIndex.add("ana", { id: "s3", loginAt: 300 }, 150);
        expect(await stores.sessionIndex.list("ana")).toEqual([{ id: "s2", loginAt: 200 }, { id: "s3", loginAt: 300 }]);
        await stores.sessionIndex.remove("ana", "s2");
        expect(await stores.sessionIndex.list("ana")).toEqual([{ id: "s3", loginAt: 300 }]);
        expect(await stores.sessionIndex.list("bia")).toEqual([{ id: "s9", loginAt: 100 }]);
      });
    });

    describe("rooms", () => {
      it("lists the rooms a user owns, and no longer a deleted one", async () => {
        const owner = `own${randomBytes(3).toString("hex")}`;
        const [a, b] = [room({ name: `A ${owner}`, owner }), room({ name: `B ${owner}`, owner })];
        await stores.rooms.create(a, { id: 1, key: key() }, 0);
        await stores.rooms.create(b, { id: 1, key: key() }, 0);
        await stores.rooms.create(room({ name: `C ${owner}` }), { id: 1, key: key() }, 0);
        expect((await stores.rooms.ownedBy(owner.toUpperCase())).sort()).toEqual([a.id, b.id].sort());
        await stores.rooms.delete(a.id);
        expect(await stores.rooms.ownedBy(owner)).toEqual([b.id]);
      });

      it("creates rooms with unique case-insensitive names and lists them in the lobby", async () => {
        const first = room({ name: "Café", passwordHash: "hash" });
        const created = await stores.rooms.create(first, { id: 1, key: key() }, 0);
        expect(created.created).toBe(true);
        expect((await stores.rooms.create(room({ name: "CAFÉ" }), { id: 1, key: key() }, 0)).created).toBe(false);
        expect(await stores.rooms.get(first.id)).toEqual(first);
        const snapshot = await stores.lobby.firstPage(100);
        expect(snapshot.rooms).toEqual([
          { id: first.id, name: "Café", owner: "ana", isPrivate: true, memberCount: 0, createdAt: first.createdAt },
        ]);
        expect(created.created && snapshot.rev >= created.rev).toBe(true);
      });

      it("tracks members, their rooms and member counts with increasing revisions", async () => {
        const r = room();
        await stores.rooms.create(r, { id: 1, key: key() }, 0);
        const a = await stores.rooms.admit(r.id, "Ana", null);
        expect(a).toMatchObject({ changed: true, memberCount: 1 });
        expect(await stores.rooms.admit(r.id, "ana", null)).toEqual({ changed: false, memberCount: 1, rev: 0, username: "Ana" });
        const b = await stores.rooms.admit(r.id, "Bruno", null);
        expect("rev" in a && "rev" in b && b.rev > a.rev).toBe(true);
        expect((await stores.rooms.members(r.id)).sort()).toEqual(["Ana", "Bruno"]);
        expect(await stores.rooms.isMember(r.id, "ANA")).toBe(true);
        expect(await stores.rooms.roomsOf("ana")).toEqual([r.id]);
        expect(await stores.rooms.removeMember(r.id, "ANA", 1)).toMatchObject({ changed: true, memberCount: 1, username: "Ana" });
        expect(await stores.rooms.removeMember(r.id, "ana", 1)).toMatchObject({ changed: false, memberCount: 1 });
        expect(await stores.rooms.roomsOf("ana")).toEqual([]);
        expect((await stores.rooms.summary(r.id))?.memberCount).toBe(1);
        expect(await stores.rooms.admit(roomId(), "ana", null)).toEqual({ changed: false, memberCount: 0, rev: 0, username: "ana" });
      });

      it("admits into a private room only with the room's current password hash, or a member already in", async () => {
        const r = room({ passwordHash: "argon-hash-1" });
        await stores.rooms.create(r, { id: 1, key: key() }, 0);
        expect(await stores.rooms.admit(r.id, "ana", null)).toEqual({ refused: "password" });
        expect(await stores.rooms.admit(r.id, "ana", "some-other-hash")).toEqual({ refused: "password" });
        expect(await stores.rooms.isMember(r.id, "ana")).toBe(false);
        expect(await stores.rooms.admit(r.id, "ana", "argon-hash-1")).toMatchObject({ changed: true, memberCount: 1 });
        // A member (another tab) needs no password; once gone, they need it again.
        expect(await stores.rooms.admit(r.id, "ANA", null)).toMatchObject({ changed: false, memberCount: 1, username: "ana" });
        await stores.rooms.removeMember(r.id, "ana", 5);
        expect(await stores.rooms.admit(r.id, "ana", null)).toEqual({ refused: "password" });
      });

      it("bars a kicked user, member or not, from joining and posting until unbarred", async () => {
        const r = room();
        await stores.rooms.create(r, { id: 1, key: key() }, 0);
        await stores.rooms.admit(r.id, "ana", null);
        await stores.rooms.admit(r.id, "Bob", null);
        const kick = await stores.rooms.bar(r.id, "BOB", 10);
        expect(kick).toMatchObject({ changed: true, memberCount: 1, username: "Bob" });
        expect(await stores.rooms.isMember(r.id, "bob")).toBe(false);
        expect(await stores.rooms.roomsOf("bob")).toEqual([]);
        expect(await stores.rooms.admit(r.id, "bob", null)).toEqual({ refused: "barred" });
        expect(await stores.rooms.acceptMessage({ ...msg(r.id, 1, 11), from: "bob" }, cap(10))).toEqual({ notMember: true });
        expect(await stores.rooms.barred(r.id)).toEqual(["Bob"]);
        // Someone not in the room is barred all the same; a missing room answers null.
        expect(await stores.rooms.bar(r.id, "Cid", 12)).toMatchObject({ changed: false, memberCount: 1 });
        expect((await stores.rooms.barred(r.id)).sort()).toEqual(["Bob", "Cid"]);
        expect(await stores.rooms.bar(roomId(), "bob", 12)).toBeNull();
        expect(await stores.rooms.unbar(r.id, "bob")).toBe(true);
        expect(await stores.rooms.unbar(r.id, "bob")).toBe(false);
        expect(await stores.rooms.barred(r.id)).toEqual(["Cid"]);
        expect(await stores.rooms.admit(r.id, "bob", null)).toMatchObject({ changed: true, memberCount: 2 });
      });

      it(`bars at most ${MAX_BARRED_PER_ROOM} users per room; one more changes nothing`, async () => {
        const r = room();
        await stores.rooms.create(r, { id: 1, key: key() }, 0);
        await stores.rooms.admit(r.id, "last", null);
        for (let i = 0; i < MAX_BARRED_PER_ROOM; i++) await stores.rooms.bar(r.id, `user${i}`, 1);
        expect(await stores.rooms.bar(r.id, "LAST", 2)).toEqual({ refused: "full" });
        expect(await stores.rooms.isMember(r.id, "last")).toBe(true);
        expect(await stores.rooms.bar(r.id, "user7", 3)).toMatchObject({ changed: false }); // already barred: fine
        expect(await stores.rooms.barred(r.id)).toHaveLength(MAX_BARRED_PER_ROOM);
      });

      it("refuses a message from someone who is not a member, changing nothing", async () => {
        const r = room();
        await stores.rooms.create(r, { id: 1, key: key() }, 0);
        expect(await stores.rooms.acceptMessage({ ...msg(r.id, 1, 1), clientId: "abcdefgh12" }, cap(10))).toEqual({ notMember: true });
        await stores.rooms.admit(r.id, "ana", null);
        // The refused id was not remembered: the same id now posts, as seq 1.
        expect(await stores.rooms.acceptMessage({ ...msg(r.id, 1, 2), clientId: "abcdefgh12" }, cap(10))).toMatchObject({ seq: 1, duplicate: false });
      });

      it("counts each owner's rooms against a quota, and frees a place when one is deleted", async () => {
        const owner = `own${randomBytes(3).toString("hex")}`;
        const first = room({ owner });
        expect((await stores.rooms.create(first, { id: 1, key: key() }, 2)).created).toBe(true);
        expect((await stores.rooms.create(room({ owner: owner.toUpperCase() }), { id: 1, key: key() }, 2)).created).toBe(true);
        expect(await stores.rooms.create(room({ owner }), { id: 1, key: key() }, 2)).toEqual({ created: false, reason: "quota" });
        expect(await stores.rooms.create(room({ name: first.name }), { id: 1, key: key() }, 2)).toEqual({ created: false, reason: "name_taken" });
        await stores.rooms.delete(first.id);
        expect((await stores.rooms.create(room({ owner }), { id: 1, key: key() }, 2)).created).toBe(true);
        expect((await stores.rooms.create(room({ owner }), { id: 1, key: key() }, 2)).created).toBe(false);
        expect((await stores.rooms.create(room({ owner }), { id: 1, key: key() }, 0)).created).toBe(true); // 0: no limit
      });

      it("lists rooms empty since before a time, and deletes one only while it is still empty and idle", async () => {
        const r = room({ createdAt: 1000 });
        await stores.rooms.create(r, { id: 1, key: key() }, 0);
        expect(await stores.rooms.idleRooms(1001, 1000)).toContain(r.id);
        expect(await stores.rooms.idleRooms(1000, 1000)).not.toContain(r.id);
        await stores.rooms.admit(r.id, "ana", null);
        expect(await stores.rooms.idleRooms(Number.MAX_SAFE_INTEGER, 1000)).not.toContain(r.id);
        expect(await stores.rooms.delete(r.id, Number.MAX_SAFE_INTEGER)).toBeNull(); // a member is in
        await stores.rooms.removeMember(r.id, "ana", 5000);
        expect(await stores.rooms.idleRooms(5000, 1000)).not.toContain(r.id);
        expect(await stores.rooms.delete(r.id, 5000)).toBeNull(); // empty, but not since before 5000
        expect(await stores.rooms.delete(r.id, 5001)).toMatchObject({ members: [] });
        expect(await stores.rooms.get(r.id)).toBeNull();
        expect(await stores.rooms.idleRooms(Number.MAX_SAFE_INTEGER, 1000)).not.toContain(r.id);
      });

      it("rotates keys and accepts messages only under the current key, numbering them in order", async () => {
        const r = room();
        const first = { id: 1, key: key() };
        await createWithSender(r, first);
        expect(await stores.rooms.currentKey(r.id)).toEqual(first);
        expect(await stores.rooms.acceptMessage(msg(r.id, 1, 100), cap(10))).toEqual({ seq: 1, ts: 100, duplicate: false, announced: false });
        expect(await stores.rooms.acceptMessage(msg(r.id, 1, 101), cap(10))).toEqual({ seq: 2, ts: 101, duplicate: false, announced: false });
        const second = await stores.rooms.rotateKey(r.id, key());
        expect(second.id).toBe(2);
        expect(await stores.rooms.currentKey(r.id)).toEqual(second);
        expect(await stores.rooms.acceptMessage(msg(r.id, 1, 102), cap(10))).toEqual({ staleKey: 2 });
        expect(await stores.rooms.acceptMessage(msg(r.id, 2, 103), cap(10))).toEqual({ seq: 3, ts: 103, duplicate: false, announced: false });
        expect(await stores.rooms.acceptMessage(msg(roomId(), 1, 104), cap(10))).toBeNull();
        expect((await stores.rooms.history(r.id, { limit: 10 })).map((m) => m.seq)).toEqual([1, 2, 3]);
        await expect(stores.rooms.rotateKey(roomId(), key())).rejects.toThrow();
      });

      it("keeps a capped, ordered history and pages it both ways", async () => {
        const r = room();
        await createWithSender(r, { id: 1, key: key() });
        for (let i = 1; i <= 30; i++) await stores.rooms.acceptMessage({ ...msg(r.id, 1, 1000 + i), from: "Ana", msg: `m${i}` }, cap(20));
        const latest = await stores.rooms.history(r.id, { limit: 5 });
        expect(latest.map((m) => m.seq)).toEqual([26, 27, 28, 29, 30]);
        expect(latest[4]).toEqual({ roomId: r.id, seq: 30, from: "Ana", ts: 1030, msg: "m30" });
        expect((await stores.rooms.history(r.id, { afterSeq: 27, limit: 10 })).map((m) => m.seq)).toEqual([28, 29, 30]);
        expect((await stores.rooms.history(r.id, { beforeSeq: 26, limit: 3 })).map((m) => m.seq)).toEqual([23, 24, 25]);
        const all = await stores.rooms.history(r.id, { limit: 1000 });
        expect(all.map((m) => m.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 11)); // capped at 20
      });

      it("answers a message sent again with the same id with the first answer, storing it once", async () => {
        const r = room();
        await createWithSender(r, { id: 1, key: key() });
        const first = await stores.rooms.acceptMessage({ ...msg(r.id, 1, 500), clientId: "abcdefgh12" }, cap(10));
        const again = await stores.rooms.acceptMessage({ ...msg(r.id, 1, 900), clientId: "abcdefgh12" }, cap(10));
        expect(first).toEqual({ seq: 1, ts: 500, duplicate: false, announced: false });
        expect(again).toEqual({ seq: 1, ts: 500, duplicate: true, announced: false });
        expect((await stores.rooms.acceptMessage({ ...msg(r.id, 1, 901), clientId: "otherid123" }, cap(10)))).toMatchObject({ seq: 2 });
        expect((await stores.rooms.history(r.id, { limit: 10 })).map((m) => m.seq)).toEqual([1, 2]);
      });

      it("clears history and keeps no more than the room's own retention", async () => {
        const r = room();
        await createWithSender(r, { id: 1, key: key() });
        for (let i = 1; i <= 6; i++) await stores.rooms.acceptMessage(msg(r.id, 1, i), cap(100));
        await stores.rooms.setRetention(r.id, 3);
        expect((await stores.rooms.history(r.id, { limit: 100 })).map((m) => m.seq)).toEqual([4, 5, 6]);
        await stores.rooms.acceptMessage(msg(r.id, 1, 7), cap(100));
        expect((await stores.rooms.history(r.id, { limit: 100 })).map((m) => m.seq)).toEqual([5, 6, 7]);
        await stores.rooms.clearHistory(r.id);
        expect(await stores.rooms.history(r.id, { limit: 100 })).toEqual([]);
        expect(await stores.rooms.acceptMessage(msg(r.id, 1, 8), cap(100))).toMatchObject({ seq: 8 });
        await stores.rooms.setRetention(r.id, 0);
        await stores.rooms.acceptMessage(msg(r.id, 1, 9), cap(100));
        expect((await stores.rooms.history(r.id, { limit: 100 })).map((m) => m.seq)).toEqual([]);
      });

      it("never returns messages past the age cap, and trims them from storage on the next write", async () => {
        const r = room();
        await createWithSender(r, { id: 1, key: key() });
        const month = cap(100, 30 * DAY);
        for (let day = 1; day <= 5; day++) await stores.rooms.acceptMessage(msg(r.id, 1, day * DAY), month);
        // On day 33, a 30-day cap keeps what was written from day 3 on.
        const notBefore = 3 * DAY;
        const seqs = async (query: { afterSeq?: number; beforeSeq?: number; notBefore?: number }) =>
          (await stores.rooms.history(r.id, { limit: 100, ...query })).map((m) => m.seq);
        expect(await seqs({ notBefore })).toEqual([3, 4, 5]);
        expect(await seqs({ notBefore, afterSeq: 0 })).toEqual([3, 4, 5]);
        expect(await seqs({ notBefore, beforeSeq: 5 })).toEqual([3, 4]);
        // A write on day 34 trims days 1–3 from storage: gone even for a reader without a cutoff.
        expect(await stores.rooms.acceptMessage(msg(r.id, 1, 34 * DAY), month)).toMatchObject({ seq: 6 });
        expect(await seqs({})).toEqual([4, 5, 6]);
        // No age cap: nothing goes.
        const forever = room();
        await createWithSender(forever, { id: 1, key: key() });
        await stores.rooms.acceptMessage(msg(forever.id, 1, 1), cap(100));
        await stores.rooms.acceptMessage(msg(forever.id, 1, 1000 * DAY), cap(100));
        expect((await stores.rooms.history(forever.id, { limit: 10 })).map((m) => m.seq)).toEqual([1, 2]);
      });

      it("trims a long expired backlog at once, and hides an expired entry that arrived out of time order", async () => {
        const r = room();
        await createWithSender(r, { id: 1, key: key() });
        for (let i = 1; i <= 120; i++) await stores.rooms.acceptMessage(msg(r.id, 1, i), cap(1000));
        await stores.rooms.acceptMessage(msg(r.id, 1, 10 * DAY), cap(1000, DAY));
        expect((await stores.rooms.history(r.id, { limit: 1000 })).map((m) => m.seq)).toEqual([121]);
        // A node with a slow clock stamps an old ts after a young one: the head is young, so the
        // trim stops there, but readers still never see the expired entry.
        await stores.rooms.acceptMessage(msg(r.id, 1, 1), cap(1000, 1000 * DAY));
        await stores.rooms.acceptMessage(msg(r.id, 1, 10 * DAY + 1), cap(1000, 1000 * DAY));
        for (const query of [{}, { afterSeq: 0 }, { beforeSeq: 1000 }]) {
          expect((await stores.rooms.history(r.id, { limit: 10, notBefore: DAY, ...query })).map((m) => m.seq)).toEqual([121, 123]);
        }
      });

      it("lets only a message's author, while a member, edit it or leave a tombstone, and every later reader sees it", async () => {
        const r = room();
        await createWithSender(r, { id: 1, key: key() });
        await stores.rooms.admit(r.id, "Bob", null);
        for (let i = 1; i <= 3; i++) await stores.rooms.acceptMessage({ ...msg(r.id, 1, 100 + i), from: "Ana", msg: `m${i}` }, cap(10));
        await stores.rooms.acceptMessage({ ...msg(r.id, 1, 104), from: "Bob", msg: "m4" }, cap(10));
        const change = (seq: number, by: string, at: number, edit?: { keyId: number; msg: string }) =>
          stores.rooms.changeMessage({ roomId: r.id, seq, by, at, ...(edit ? { edit } : {}) }, cap(10));
        const before = await stores.rooms.history(r.id, { limit: 10 });

        // Refused: someone else's, no such seq, not a member, no such room: nothing changes.
        expect(await change(1, "bob", 200, { keyId: 1, msg: "bob's" })).toEqual({ refused: "forbidden" });
        expect(await change(1, "bob", 200)).toEqual({ refused: "forbidden" });
        expect(await change(9, "ana", 200, { keyId: 1, msg: "x" })).toEqual({ refused: "not_found" });
        expect(await change(1, "cid", 200)).toEqual({ refused: "not_member" });
        expect(await stores.rooms.changeMessage({ roomId: roomId(), seq: 1, by: "ana", at: 200 }, cap(10))).toEqual({ refused: "room" });
        expect(await stores.rooms.history(r.id, { limit: 10 })).toEqual(before);

        // The author (any case) edits: the new envelope and its time, for every page.
        expect(await change(1, "ANA", 5000, { keyId: 1, msg: "e1" })).toEqual({ changed: true, editedAt: 5000 });
        const edited = { roomId: r.id, seq: 1, from: "Ana", ts: 101, msg: "e1", editedAt: 5000 };
        expect((await stores.rooms.history(r.id, { limit: 10 }))[0]).toEqual(edited);
        expect(await stores.rooms.history(r.id, { afterSeq: 0, limit: 2 })).toEqual([edited, before[1]]);
        expect(await stores.rooms.history(r.id, { beforeSeq: 3, limit: 2 })).toEqual([edited, before[1]]);
        // Edited again by a node whose clock is behind: still later than the previous edit.
        expect(await change(1, "ana", 4000, { keyId: 1, msg: "e1b" })).toEqual({ changed: true, editedAt: 5001 });

        // A delete leaves a tombstone in its place; it cannot be edited or deleted again.
        expect(await change(2, "ana", 6000)).toMatchObject({ changed: true });
        const tombstone = { roomId: r.id, seq: 2, from: "Ana", ts: 102, msg: "", deleted: true };
        expect(await stores.rooms.history(r.id, { limit: 10 })).toEqual([{ ...edited, msg: "e1b", editedAt: 5001 }, tombstone, before[2], before[3]]);
        expect(await change(2, "ana", 6001, { keyId: 1, msg: "back" })).toEqual({ refused: "not_found" });
        expect(await change(2, "ana", 6001)).toEqual({ refused: "not_found" });
        expect(await change(1, "ana", 6002)).toMatchObject({ changed: true }); // an edited message may be deleted

        // An edit must be under the current key (a delete needs none); a member kicked may change nothing.
        await stores.rooms.rotateKey(r.id, key());
        expect(await change(3, "ana", 7000, { keyId: 1, msg: "stale" })).toEqual({ staleKey: 2 });
        expect(await change(3, "ana", 7000, { keyId: 2, msg: "e3" })).toEqual({ changed: true, editedAt: 7000 });
        await stores.rooms.bar(r.id, "bob", 7001);
        expect(await change(4, "bob", 7002)).toEqual({ refused: "not_member" });
        expect((await stores.rooms.history(r.id, { limit: 10 })).map((m) => [m.seq, m.msg, m.deleted ?? false])).toEqual([
          [1, "", true],
          [2, "", true],
          [3, "e3", false],
          [4, "m4", false],
        ]);
      });

      it("pages edited, deleted and untouched messages together, in order, both ways", async () => {
        const r = room();
        await createWithSender(r, { id: 1, key: key() });
        for (let i = 1; i <= 12; i++) await stores.rooms.acceptMessage({ ...msg(r.id, 1, i), msg: `m${i}` }, cap(100));
        for (const seq of [2, 3, 7, 12]) await stores.rooms.changeMessage({ roomId: r.id, seq, by: "ana", at: 50, edit: { keyId: 1, msg: `e${seq}` } }, cap(100));
        for (const seq of [5, 8, 11]) await stores.rooms.changeMessage({ roomId: r.id, seq, by: "ana", at: 60 }, cap(100));
        const shown = (seq: number) => ([2, 3, 7, 12].includes(seq) ? `e${seq}` : [5, 8, 11].includes(seq) ? "" : `m${seq}`);
        const page = async (query: { afterSeq?: number; beforeSeq?: number; limit: number }) =>
          (await stores.rooms.history(r.id, query)).map((m) => `${m.seq}:${m.msg}`);
        const expected = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `${from + i}:${shown(from + i)}`);
        expect(await page({ limit: 3 })).toEqual(expected(10, 12));
        expect(await page({ limit: 100 })).toEqual(expected(1, 12));
        expect(await page({ beforeSeq: 10, limit: 4 })).toEqual(expected(6, 9));
        expect(await page({ beforeSeq: 3, limit: 4 })).toEqual(expected(1, 2));
        expect(await page({ afterSeq: 0, limit: 4 })).toEqual(expected(1, 4));
        expect(await page({ afterSeq: 4, limit: 4 })).toEqual(expected(5, 8));
        expect(await page({ afterSeq: 10, limit: 4 })).toEqual(expected(11, 12));
      });

      it("keeps edits and tombstones within the history's limits: count, retention, age, and a clear", async () => {
        const r = room();
        await createWithSender(r, { id: 1, key: key() });
        const edit = (seq: number, at: number, maxAgeMs = 0) => stores.rooms.changeMessage({ roomId: r.id, seq, by: "ana", at, edit: { keyId: 1, msg: `e${seq}` } }, { maxAgeMs });
        for (let i = 1; i <= 5; i++) await stores.rooms.acceptMessage(msg(r.id, 1, i), cap(5));
        await edit(1, 10);
        await stores.rooms.changeMessage({ roomId: r.id, seq: 2, by: "ana", at: 11 }, cap(5));
        await edit(4, 12);
        for (let i = 6; i <= 8; i++) await stores.rooms.acceptMessage(msg(r.id, 1, i), cap(5));
        // The latest 5 seqs stay, whether edited or not.
        expect((await stores.rooms.history(r.id, { limit: 100 })).map((m) => [m.seq, m.msg])).toEqual([[4, "e4"], [5, "v1.x"], [6, "v1.x"], [7, "v1.x"], [8, "v1.x"]]);
        expect(await edit(1, 13)).toEqual({ refused: "not_found" });
        await edit(7, 14);
        await stores.rooms.setRetention(r.id, 2);
        expect((await stores.rooms.history(r.id, { limit: 100 })).map((m) => [m.seq, m.msg])).toEqual([[7, "e7"], [8, "v1.x"]]);
        await stores.rooms.clearHistory(r.id);
        expect(await stores.rooms.history(r.id, { limit: 100 })).toEqual([]);
        expect(await edit(8, 15)).toEqual({ refused: "not_found" });

        // By age: a message past the cap cannot be changed, and its edit goes with the next write.
        const aged = room();
        await createWithSender(aged, { id: 1, key: key() });
        const month = cap(100, 30 * DAY);
        for (let day = 1; day <= 3; day++) await stores.rooms.acceptMessage(msg(aged.id, 1, day * DAY), month);
        await stores.rooms.changeMessage({ roomId: aged.id, seq: 1, by: "ana", at: 3 * DAY, edit: { keyId: 1, msg: "e1" } }, month);
        expect(await stores.rooms.changeMessage({ roomId: aged.id, seq: 1, by: "ana", at: 32 * DAY }, month)).toEqual({ refused: "not_found" });
        await stores.rooms.acceptMessage(msg(aged.id, 1, 32 * DAY), month); // keeps day 2 on
        expect((await stores.rooms.history(aged.id, { limit: 100 })).map((m) => m.seq)).toEqual([2, 3, 4]);
      });

      it("finds keys by id", async () => {
        const r = room();
        const first = { id: 1, key: key() };
        await stores.rooms.create(r, first, 0);
        const second = await stores.rooms.rotateKey(r.id, key());
        expect(await stores.rooms.keysById(r.id, [2, 1, 2, 9])).toEqual([second, first]);
      });

      it("deletes a room with its members' memberships and frees its name", async () => {
        const r = room({ name: "Doomed" });
        await stores.rooms.create(r, { id: 1, key: key() }, 0);
        await stores.rooms.admit(r.id, "Ana", null);
        await stores.rooms.admit(r.id, "Bruno", null);
        const deleted = await stores.rooms.delete(r.id);
        expect(deleted?.members.sort()).toEqual(["Ana", "Bruno"]);
        expect(await stores.rooms.get(r.id)).toBeNull();
        expect(await stores.rooms.currentKey(r.id)).toBeNull();
        expect(await stores.rooms.roomsOf("ana")).toEqual([]);
        expect(await stores.rooms.delete(r.id)).toBeNull();
        expect((await stores.lobby.firstPage(100)).rooms.map((x) => x.id)).not.toContain(r.id);
        expect((await stores.rooms.create(room({ name: "doomed" }), { id: 1, key: key() }, 0)).created).toBe(true);
      });
    });

    describe("conversations", () => {
      const names = () => {
        const tag = randomBytes(3).toString("hex");
        return [`Ana${tag}`, `Bia${tag}`] as const;
      };
      const whisper = (from: string, to: string, ts: number, extra: { keyId?: number; clientId?: string } = {}) =>
        ({ from, to, keyId: 1, ts, msg: `v1.${from}@${ts}`, ...extra });

      it("opens one conversation per pair, with one key, listed for the opener until the first whisper", async () => {
        const [ana, bia] = names();
        const k1 = key();
        const opened = await stores.conversations.open(ana, bia, k1);
        const id = `dm:${ana.toLowerCase()}:${bia.toLowerCase()}`;
        expect(opened).toEqual({ conversation: { id, with: bia, unread: 0, lastSeq: 0, lastTs: 0 }, key: { id: 1, key: k1 } });
        const again = await stores.conversations.open(bia.toUpperCase(), ana, key());
        expect(again.key).toEqual({ id: 1, key: k1 }); // the first key stays
        expect(again.conversation).toMatchObject({ id, with: ana });
        expect(await stores.conversations.keysById(id, [1, 2])).toEqual([{ id: 1, key: k1 }]);
        expect(await stores.conversations.list(ana, 10)).toEqual([opened.conversation]);
      });

      it("deletes a conversation for both participants: its history, keys and list entries", async () => {
        const [ana, bia] = names();
        const opened = await stores.conversations.open(ana, bia, key());
        await stores.conversations.accept(whisper(ana, bia, 10), cap(100));
        await stores.conversations.delete(opened.conversation.id);
        expect(await stores.conversations.list(ana, 10)).toEqual([]);
        expect(await stores.conversations.list(bia, 10)).toEqual([]);
        expect(await stores.conversations.history(ana, bia, { limit: 10 })).toEqual([]);
        expect(await stores.conversations.keysById(opened.conversation.id, [1])).toEqual([]);
        expect(await stores.conversations.accept(whisper(ana, bia, 20), cap(100))).toBeNull(); // opened afresh only
      });

      it("numbers whispers under the current key, stores them once, and counts unread per participant", async () => {
        const [ana, bia] = names();
        const caio = `Caio${randomBytes(3).toString("hex")}`;
        expect(await stores.conversations.accept(whisper(ana, bia, 10), cap(100))).toBeNull(); // not opened
        await stores.conversations.open(ana, bia, key());
        expect(await stores.conversations.accept(whisper(ana, bia, 10), cap(100))).toEqual({ seq: 1, ts: 10, duplicate: false, announced: false });
        expect(await stores.conversations.accept(whisper(bia, ana, 11, { clientId: "abcdefgh12" }), cap(100))).toEqual({ seq: 2, ts: 11, duplicate: false, announced: false });
        expect(await stores.conversations.accept(whisper(bia, ana, 99, { clientId: "abcdefgh12" }), cap(100))).toEqual({ seq: 2, ts: 11, duplicate: true, announced: false });
        expect(await stores.conversations.accept(whisper(bia, ana, 12, { keyId: 2 }), cap(100))).toEqual({ staleKey: 1 });
        expect(await stores.conversations.accept(whisper(bia, ana, 13), cap(100))).toEqual({ seq: 3, ts: 13, duplicate: false, announced: false });

        const history = await stores.conversations.history(bia, ana, { limit: 10 });
        const id = `dm:${ana.toLowerCase()}:${bia.toLowerCase()}`;
        expect(history).toEqual([
          { conversationId: id, seq: 1, from: ana, to: bia, ts: 10, msg: `v1.${ana}@10` },
          { conversationId: id, seq: 2, from: bia, to: ana, ts: 11, msg: `v1.${bia}@11` },
          { conversationId: id, seq: 3, from: bia, to: ana, ts: 13, msg: `v1.${bia}@13` },
        ]);
        expect((await stores.conversations.history(ana, bia, { afterSeq: 1, limit: 10 })).map((w) => w.seq)).toEqual([2, 3]);
        expect(await stores.conversations.history(ana, caio, { limit: 10 })).toEqual([]); // another pair's: nothing

        // Bia sent the latest two, so she has read everything; Ana has two unread.
        expect(await stores.conversations.list(bia, 10)).toEqual([{ id, with: ana, unread: 0, lastSeq: 3, lastTs: 13 }]);
        expect(await stores.conversations.list(ana.toLowerCase(), 10)).toEqual([{ id, with: bia, unread: 2, lastSeq: 3, lastTs: 13 }]);
        expect(await stores.conversations.markRead(ana, bia, 2)).toEqual({ id, with: bia, unread: 1, lastSeq: 3, lastTs: 13 });
        expect((await stores.conversations.markRead(ana, bia, 1))?.unread).toBe(1); // never backwards
        expect((await stores.conversations.markRead(ana, bia, 99))?.unread).toBe(0); // never past the end
        expect((await stores.conversations.list(ana, 10))[0]?.unread).toBe(0);
        expect(await stores.conversations.markRead(ana, caio, 1)).toBeNull();
      });

      it("lists a user's conversations most recent first", async () => {
        const [ana, bia] = names();
        const caio = `Caio${randomBytes(3).toString("hex")}`;
        await stores.conversations.open(ana, bia, key());
        await stores.conversations.open(caio, ana, key());
        await stores.conversations.accept(whisper(ana, bia, 100), cap(100));
        await stores.conversations.accept(whisper(caio, ana, 200), cap(100));
        expect((await stores.conversations.list(ana, 10)).map((c) => [c.with, c.unread])).toEqual([[caio, 1], [bia, 0]]);
        await stores.conversations.accept(whisper(bia, ana, 300), cap(100));
        expect((await stores.conversations.list(ana, 10)).map((c) => c.with)).toEqual([bia, caio]);
        expect((await stores.conversations.list(ana, 1)).map((c) => c.with)).toEqual([bia]);
        // The partners alone, as the lobby asks for them: name keys, in the same order.
        expect(await stores.conversations.partners(ana.toUpperCase(), 10)).toEqual([bia.toLowerCase(), caio.toLowerCase()]);
        expect(await stores.conversations.partners(caio, 1)).toEqual([ana.toLowerCase()]);
      });

      it("caps a conversation's history by length and by age", async () => {
        const [ana, bia] = names();
        await stores.conversations.open(ana, bia, key());
        for (let day = 1; day <= 6; day++) await stores.conversations.accept(whisper(ana, bia, day * DAY), cap(4, 30 * DAY));
        const seqs = async (notBefore?: number) => (await stores.conversations.history(bia, ana, { limit: 100, notBefore })).map((w) => w.seq);
        expect(await seqs()).toEqual([3, 4, 5, 6]);
        expect(await seqs(5 * DAY)).toEqual([5, 6]);
        await stores.conversations.accept(whisper(bia, ana, 36 * DAY), cap(4, 30 * DAY));
        expect(await seqs()).toEqual([6, 7]);
      });
    });

    describe("health samples", () => {
      const sample = (node: string, ts: number) => ({
        node, ts, rssBytes: 1, heapUsedBytes: 1, cpuPercent: 0, loopDelayP50Ms: 0, loopDelayP99Ms: 0, loopDelayMaxMs: 0,
        sockets: 0, rooms: 0, messagesInPerSec: 0, deliveriesOutPerSec: 0,
      });

      it("keeps a window per node, oldest first, and only for nodes that reported recently", async () => {
        for (let t = 1; t <= 5; t++) await stores.samples.record(sample("a", t * 1000), 3, 2000);
        await stores.samples.record(sample("b", 1000), 3, 2000);
        const recent = await stores.samples.recent(5500, 2000);
        expect(recent.map((s) => `${s.node}@${s.ts}`)).toEqual(["a@3000", "a@4000", "a@5000"]);
        expect(await stores.samples.recent(20_000, 2000)).toEqual([]);
      });
    });

    describe("presence", () => {
      it("counts the nodes holding a user: online at the first, offline after the last; repeats change nothing", async () => {
        const on = await stores.presence.connect("n1", "Ana");
        expect(on).toMatchObject({ username: "Ana" });
        expect(await stores.presence.connect("n2", "ana")).toBeNull();
        expect(await stores.presence.connect("n1", "Ana")).toBeNull(); // n1 holds her already
        expect((await stores.lobby.firstPage(100)).users).toEqual(["Ana"]);
        expect(await stores.presence.isOnline("ANA")).toBe(true);
        expect(await stores.presence.disconnect("n2", "Ana")).toBeNull();
        expect(await stores.presence.disconnect("n2", "Ana")).toBeNull(); // a repeat takes nothing back
        expect(await stores.presence.isOnline("ana")).toBe(true);
        const off = await stores.presence.disconnect("n1", "Ana");
        expect(off?.username).toBe("Ana");
        expect(off?.rev).toBeGreaterThan(on?.rev ?? Infinity);
        expect(await stores.presence.isOnline("ana")).toBe(false);
        expect(await stores.presence.disconnect("n1", "Ana")).toBeNull();
      });

      it("finds dead nodes by heartbeat and sweeps their users offline exactly once", async () => {
        expect(await stores.presence.heartbeat("n1", 1000)).toBe(false);
        expect(await stores.presence.heartbeat("n1", 1500)).toBe(true);
        await stores.presence.heartbeat("n2", 5000);
        await stores.presence.connect("n1", "Ana");
        await stores.presence.connect("n1", "Bruno");
        await stores.presence.connect("n2", "Bruno");
        expect(await stores.presence.deadNodes(6000, 2000)).toEqual(["n1"]);
        const swept = await stores.presence.sweepNode("n1");
        expect(swept.map((t) => t.username)).toEqual(["Ana"]);
        expect(await stores.presence.sweepNode("n1")).toEqual([]);
        expect(await stores.presence.deadNodes(6000, 2000)).toEqual([]);
        // Still listed until their offline is confirmed (the grace period), then off the lobby.
        expect((await stores.lobby.firstPage(100)).users).toEqual(["Ana", "Bruno"]);
        expect(await stores.presence.leaveLobby("Ana", swept[0]!.rev)).toBeGreaterThan(swept[0]!.rev);
        expect((await stores.lobby.firstPage(100)).users).toEqual(["Bruno"]);
        // A late disconnect from the swept node takes nothing back.
        expect(await stores.presence.disconnect("n1", "Bruno")).toBeNull();
        expect(await stores.presence.isOnline("bruno")).toBe(true);
        expect(await stores.presence.heartbeat("n1", 7000)).toBe(false);
      });

      it("keeps a user who left listed until leaveLobby, which takes them off only if they stayed offline since that departure", async () => {
        await stores.presence.connect("n1", "Caio");
        const left = await stores.presence.disconnect("n1", "Caio");
        // Offline, but listed through the grace period: pages, counts and partners still show them.
        expect(await stores.presence.isOnline("caio")).toBe(false);
        expect((await stores.lobby.firstPage(10)).users).toEqual(["Caio"]);
        expect(await stores.lobby.counts()).toMatchObject({ users: 1 });
        expect((await stores.lobby.onlineOf(["caio"])).online).toEqual(["Caio"]);
        await stores.presence.connect("n2", "Caio"); // back …
        expect(await stores.presence.leaveLobby("Caio", left!.rev)).toBe(0);
        const leftAgain = await stores.presence.disconnect("n2", "Caio"); // … and gone again
        expect(await stores.presence.leaveLobby("Caio", left!.rev)).toBe(0); // that departure was cancelled
        expect((await stores.lobby.firstPage(10)).users).toEqual(["Caio"]);
        const rev = await stores.presence.leaveLobby("Caio", leftAgain!.rev);
        expect(rev).toBeGreaterThan(leftAgain!.rev);
        expect(rev).toBe(await stores.lobby.rev());
        expect(await stores.lobby.firstPage(10)).toMatchObject({ users: [], counts: { users: 0 } });
        expect((await stores.lobby.onlineOf(["caio"])).online).toEqual([]);
        expect((await stores.lobby.userPage({ prefix: "", after: null, limit: 10 })).items).toEqual([]);
      });

      it("queues offline confirmations and hands each due one to exactly one taker", async () => {
        await stores.presence.deferOffline({ username: "Ana", rev: 7 }, 1000);
        await stores.presence.deferOffline({ username: "Bia:x", rev: 8 }, 2000);
        expect(await stores.presence.takeDueOffline(500)).toEqual([]);
        expect(await stores.presence.takeDueOffline(1500)).toEqual([{ username: "Ana", rev: 7 }]);
        expect(await stores.presence.takeDueOffline(1500)).toEqual([]);
        expect(await stores.presence.takeDueOffline(9000)).toEqual([{ username: "Bia:x", rev: 8 }]);
      });
    });

    // Issue 17, item 9 (d): look-alike names are refused in the same atomic step that claims a name.
    describe("lobby pages", () => {
      const page = (prefix: string, after: string | null, limit: number) => ({ prefix, after, limit });

      it("pages online users in name order, by prefix and cursor, with counts", async () => {
        const names = ["Zoe", "ana", "Bruno", "bia", "Bea", "carla", "Beto"];
        for (const name of names) await stores.presence.connect("n1", name);
        const first = await stores.lobby.firstPage(3);
        expect(first.users).toEqual(["ana", "Bea", "Beto"]);
        expect(first.counts.users).toBe(7);
        const all = await stores.lobby.userPage(page("", null, 100));
        expect(all.items).toEqual(["ana", "Bea", "Beto", "bia", "Bruno", "carla", "Zoe"]);
        expect(all.next).toBeNull();
        const b1 = await stores.lobby.userPage(page("b", null, 2));
        expect(b1.items).toEqual(["Bea", "Beto"]);
        expect(b1.next).toBe("beto");
        const b2 = await stores.lobby.userPage(page("b", b1.next, 2));
        expect(b2.items).toEqual(["bia", "Bruno"]);
        expect(b2.next).toBeNull(); // nothing after Bruno starts with b
        expect((await stores.lobby.userPage(page("be", null, 10))).items).toEqual(["Bea", "Beto"]);
        expect((await stores.lobby.userPage(page("x", null, 10))).items).toEqual([]);
        // A cursor before the prefix starts at the prefix; one past it ends the list.
        expect((await stores.lobby.userPage(page("c", "ana", 10))).items).toEqual(["carla"]);
        expect((await stores.lobby.userPage(page("b", "c", 10))).items).toEqual([]);
        expect((await stores.lobby.onlineOf(["BRUNO", "nobody", "zoe"])).online).toEqual(["Bruno", "Zoe"]);
        expect((await stores.lobby.onlineOf([])).rev).toBe(await stores.lobby.rev());
        // Going offline (last node), once confirmed, takes them off every page at once.
        const bea = await stores.presence.disconnect("n1", "bea");
        expect(await stores.presence.leaveLobby("bea", bea!.rev)).toBeGreaterThan(0);
        expect((await stores.lobby.firstPage(3)).users).toEqual(["ana", "Beto", "bia"]);
        expect(await stores.lobby.counts()).toMatchObject({ users: 6 });
        for (const gone of await stores.presence.sweepNode("n1")) await stores.presence.leaveLobby(gone.username, gone.rev);
        expect(await stores.lobby.firstPage(3)).toMatchObject({ users: [], counts: { users: 0 } });
      });

      it("orders names as Redis does, by code point (an astral letter after U+FF00), in pages and cursors", async () => {
        for (const name of ["𠀀bar", "ｇolf", "ｆoo"]) expect((await stores.rooms.create(room({ name }), { id: 1, key: key() }, 0)).created).toBe(true);
        expect((await stores.lobby.roomPage(page("", null, 10))).items.map((r) => r.name)).toEqual(["ｆoo", "ｇolf", "𠀀bar"]);
        expect((await stores.lobby.roomPage(page("", "ｆoo", 10))).items.map((r) => r.name)).toEqual(["ｇolf", "𠀀bar"]);
        // A cursor that sorts before the prefix starts at the prefix.
        expect((await stores.lobby.roomPage(page("𠀀", "ｆoo", 10))).items.map((r) => r.name)).toEqual(["𠀀bar"]);
      });

      it("pages rooms by name and lists the most active first, as memberships change", async () => {
        const names = ["Beta", "alpha", "Árvore", "gamma", "Delta"];
        const rooms = names.map((name) => room({ name }));
        for (const r of rooms) expect((await stores.rooms.create(r, { id: 1, key: key() }, 0)).created).toBe(true);
        const [beta, alpha, arvore, gamma, delta] = rooms as [RoomRecord, RoomRecord, RoomRecord, RoomRecord, RoomRecord];
        const byName = await stores.lobby.roomPage(page("", null, 10));
        expect(byName.items.map((r) => r.name)).toEqual(["alpha", "Beta", "Delta", "gamma", "Árvore"]); // nameKey order (UTF-8 bytes)
        const firstTwo = await stores.lobby.roomPage(page("", null, 2));
        expect(firstTwo.next).toBe("beta");
        expect((await stores.lobby.roomPage(page("", firstTwo.next, 2))).items.map((r) => r.name)).toEqual(["Delta", "gamma"]);
        expect((await stores.lobby.roomPage(page("á", null, 10))).items.map((r) => r.id)).toEqual([arvore.id]);

        for (const user of ["u1", "u2", "u3"]) await stores.rooms.admit(gamma.id, user, null);
        for (const user of ["u1", "u2"]) await stores.rooms.admit(beta.id, user, null);
        await stores.rooms.admit(alpha.id, "u1", null);
        const first = await stores.lobby.firstPage(3);
        expect(first.rooms.map((r) => [r.name, r.memberCount])).toEqual([["gamma", 3], ["Beta", 2], ["alpha", 1]]);
        expect(first.counts.rooms).toBe(5);
        await stores.rooms.removeMember(gamma.id, "u1", Date.now());
        await stores.rooms.bar(gamma.id, "u2", Date.now());
        expect((await stores.lobby.firstPage(2)).rooms.map((r) => [r.name, r.memberCount])).toEqual([["Beta", 2], alpha.id > gamma.id ? ["alpha", 1] : ["gamma", 1]]);

        // A deleted room leaves every index; its name can be taken again.
        await stores.rooms.delete(delta.id);
        expect((await stores.lobby.roomPage(page("d", null, 10))).items).toEqual([]);
        expect((await stores.lobby.firstPage(10)).rooms.map((r) => r.id)).not.toContain(delta.id);
        expect(await stores.lobby.counts()).toMatchObject({ rooms: 4 });
        const again = room({ name: "delta" });
        expect((await stores.rooms.create(again, { id: 1, key: key() }, 0)).created).toBe(true);
        expect((await stores.lobby.roomPage(page("d", null, 10))).items.map((r) => r.id)).toEqual([again.id]);
        // Every change moved the lobby's revision, which the first page carries (the ticks read it).
        const rev = await stores.lobby.rev();
        expect(rev).toBeGreaterThan(0);
        expect((await stores.lobby.firstPage(10)).rev).toBe(rev);
      });
    });

    describe("look-alike names", () => {
      // Usernames are ASCII (USERNAME_PATTERN): what still looks alike there is rn/m, l/1/I, O/0.
      it("refuses a username confusable with an existing one, and keeps an exact duplicate a plain 'taken'", async () => {
        expect(await stores.users.create({ username: "bill", passwordHash: "h", createdAt: 1 })).toBe(true);
        for (const lookalike of ["bi11", "BiIl", "biI1"]) {
          await expect(stores.users.create({ username: lookalike, passwordHash: "h", createdAt: 2 })).rejects.toMatchObject({
            code: ErrorCode.NAME_CONFUSABLE,
            existing: "bill",
          });
          expect(await stores.users.get(lookalike)).toBeNull();
        }
        expect(await stores.users.create({ username: "BILL", passwordHash: "h", createdAt: 3 })).toBe(false);
        expect(await stores.users.create({ username: "rnarco", passwordHash: "h", createdAt: 4 })).toBe(true);
        await expect(stores.users.create({ username: "marco", passwordHash: "h", createdAt: 5 })).rejects.toMatchObject({ existing: "rnarco" });
        expect(await stores.users.create({ username: "r0b", passwordHash: "h", createdAt: 6 })).toBe(true);
        await expect(stores.users.create({ username: "rob", passwordHash: "h", createdAt: 7 })).rejects.toMatchObject({ existing: "r0b" });
        expect(await stores.users.create({ username: "billy", passwordHash: "h", createdAt: 8 })).toBe(true);
      });

      it("lets one of many racing look-alike registrations win", async () => {
        const names = ["bia1", "bial", "biaI", "Bia1", "BiaL"];
        const results = await Promise.allSettled(names.map((username) => stores.users.create({ username, passwordHash: "h", createdAt: 1 })));
        expect(results.filter((r) => r.status === "fulfilled" && r.value === true)).toHaveLength(1);
      });

      it("refuses a room name confusable with an existing room's, and frees it when that room is deleted", async () => {
        const lobby = room({ name: "Lobby" });
        expect((await stores.rooms.create(lobby, { id: 1, key: key() }, 0)).created).toBe(true);
        for (const name of ["Lоbby", "ＬＯＢＢＹ", "L0bby"]) {
          const lookalike = room({ name });
          await expect(stores.rooms.create(lookalike, { id: 1, key: key() }, 0)).rejects.toMatchObject({ code: ErrorCode.NAME_CONFUSABLE, existing: "Lobby" });
          expect(await stores.rooms.get(lookalike.id)).toBeNull();
        }
        expect((await stores.lobby.firstPage(100)).rooms.map((r) => r.name)).toEqual(["Lobby"]);
        const again = await stores.rooms.create(room({ name: "LOBBY" }), { id: 1, key: key() }, 0);
        expect(again).toEqual({ created: false, reason: "name_taken" });
        expect(await stores.rooms.delete(lobby.id)).not.toBeNull();
        const successor = room({ name: "Lоbby" });
        expect((await stores.rooms.create(successor, { id: 1, key: key() }, 0)).created).toBe(true);
        await expect(stores.rooms.create(room({ name: "Lobby" }), { id: 1, key: key() }, 0)).rejects.toMatchObject({ existing: "Lоbby" });
      });
    });

    // Issue 17, item 9 (c): the admin role is a flag on an existing account; operators' actions are audited.
    describe("admin role and audit trail", () => {
      it("grants and revokes the role of an existing user only", async () => {
        await stores.users.create({ username: "Ana", passwordHash: "h", createdAt: 1 });
        expect(await stores.users.isAdmin("ana")).toBe(false);
        expect(await stores.users.setAdmin("ANA", true)).toBe(true);
        expect(await stores.users.isAdmin("aNa")).toBe(true);
        expect(await stores.users.get("ana")).toEqual({ username: "Ana", passwordHash: "h", createdAt: 1 });
        expect(await stores.users.setAdmin("ana", false)).toBe(true);
        expect(await stores.users.isAdmin("ana")).toBe(false);
        expect(await stores.users.setAdmin("ghost", true)).toBe(false);
        expect(await stores.users.isAdmin("ghost")).toBe(false);
        expect(await stores.users.get("ghost")).toBeNull();
      });

      it("keeps the latest audit entries, newest first", async () => {
        const entry = (i: number) => ({ ts: i, actor: "root", action: "grant-admin", target: `u${i}`, outcome: "done" });
        for (let i = 1; i <= 5; i++) await stores.audit.append(entry(i), 3);
        expect(await stores.audit.recent(10)).toEqual([entry(5), entry(4), entry(3)]);
        expect(await stores.audit.recent(1)).toEqual([entry(5)]);
      });
    });
  });
}
