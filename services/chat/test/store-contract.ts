/**
 * The behaviour every Stores implementation must have. Run against the memory stores
 * (stores-memory.unit.test.ts) and the Redis stores on a real redis-server (stores-redis.int.test.ts).
 */
import { randomBytes } from "node:crypto";
import { beforeEach, describe, expect, it } from "vitest";
import type { RoomRecord, Stores } from "../src/stores/types.js";

const key = () => randomBytes(32).toString("base64");
const roomId = () => randomBytes(12).toString("base64url");

function room(overrides: Partial<RoomRecord> = {}): RoomRecord {
  return { id: roomId(), name: `room ${randomBytes(3).toString("hex")}`, owner: "ana", passwordHash: null, createdAt: Date.now(), ...overrides };
}

export function describeStoreContract(kind: string, makeStores: () => Promise<Stores>): void {
  describe(`store contract: ${kind}`, () => {
    let stores: Stores;
    beforeEach(async () => {
      stores = await makeStores();
    });

    describe("users", () => {
      it("creates a user once, case-insensitively, and reads it back by any case", async () => {
        expect(await stores.users.create({ username: "Ana", passwordHash: "h1", createdAt: 1 })).toBe(true);
        expect(await stores.users.create({ username: "ANA", passwordHash: "h2", createdAt: 2 })).toBe(false);
        expect(await stores.users.get("aNa")).toEqual({ username: "Ana", passwordHash: "h1", createdAt: 1 });
        expect(await stores.users.get("bruno")).toBeNull();
      });

      it("replaces a password hash", async () => {
        await stores.users.create({ username: "bia", passwordHash: "old", createdAt: 1 });
        await stores.users.setPasswordHash("BIA", "new");
        expect((await stores.users.get("bia"))?.passwordHash).toBe("new");
      });
    });

    describe("rooms", () => {
      it("creates rooms with unique case-insensitive names and lists them in the lobby", async () => {
        const first = room({ name: "Café", passwordHash: "hash" });
        const created = await stores.rooms.create(first, { id: 1, key: key() });
        expect(created.created).toBe(true);
        expect((await stores.rooms.create(room({ name: "CAFÉ" }), { id: 1, key: key() })).created).toBe(false);
        expect(await stores.rooms.get(first.id)).toEqual(first);
        const snapshot = await stores.lobby.snapshot();
        expect(snapshot.rooms).toEqual([
          { id: first.id, name: "Café", owner: "ana", isPrivate: true, memberCount: 0, createdAt: first.createdAt },
        ]);
        expect(snapshot.rev).toBeGreaterThanOrEqual(created.rev);
      });

      it("tracks members, their rooms and member counts with increasing revisions", async () => {
        const r = room();
        await stores.rooms.create(r, { id: 1, key: key() });
        const a = await stores.rooms.addMember(r.id, "Ana");
        expect(a).toMatchObject({ changed: true, memberCount: 1 });
        expect(await stores.rooms.addMember(r.id, "ana")).toEqual({ changed: false, memberCount: 1, rev: 0, username: "Ana" });
        const b = await stores.rooms.addMember(r.id, "Bruno");
        expect(b.rev).toBeGreaterThan(a.rev);
        expect((await stores.rooms.members(r.id)).sort()).toEqual(["Ana", "Bruno"]);
        expect(await stores.rooms.isMember(r.id, "ANA")).toBe(true);
        expect(await stores.rooms.roomsOf("ana")).toEqual([r.id]);
        expect(await stores.rooms.removeMember(r.id, "ANA")).toMatchObject({ changed: true, memberCount: 1, username: "Ana" });
        expect(await stores.rooms.removeMember(r.id, "ana")).toMatchObject({ changed: false, memberCount: 1 });
        expect(await stores.rooms.roomsOf("ana")).toEqual([]);
        expect((await stores.rooms.summary(r.id))?.memberCount).toBe(1);
        expect(await stores.rooms.addMember(roomId(), "ana")).toEqual({ changed: false, memberCount: 0, rev: 0, username: "ana" });
      });

      it("rotates keys and accepts messages only under the current key, numbering them in order", async () => {
        const r = room();
        const first = { id: 1, key: key() };
        await stores.rooms.create(r, first);
        expect(await stores.rooms.currentKey(r.id)).toEqual(first);
        expect(await stores.rooms.acceptMessage(r.id, 1)).toEqual({ seq: 1 });
        expect(await stores.rooms.acceptMessage(r.id, 1)).toEqual({ seq: 2 });
        const second = await stores.rooms.rotateKey(r.id, key());
        expect(second.id).toBe(2);
        expect(await stores.rooms.currentKey(r.id)).toEqual(second);
        expect(await stores.rooms.acceptMessage(r.id, 1)).toEqual({ staleKey: 2 });
        expect(await stores.rooms.acceptMessage(r.id, 2)).toEqual({ seq: 3 });
        expect(await stores.rooms.acceptMessage(roomId(), 1)).toBeNull();
        await expect(stores.rooms.rotateKey(roomId(), key())).rejects.toThrow();
      });

      it("deletes a room with its members' memberships and frees its name", async () => {
        const r = room({ name: "Doomed" });
        await stores.rooms.create(r, { id: 1, key: key() });
        await stores.rooms.addMember(r.id, "Ana");
        await stores.rooms.addMember(r.id, "Bruno");
        const deleted = await stores.rooms.delete(r.id);
        expect(deleted?.members.sort()).toEqual(["Ana", "Bruno"]);
        expect(await stores.rooms.get(r.id)).toBeNull();
        expect(await stores.rooms.currentKey(r.id)).toBeNull();
        expect(await stores.rooms.roomsOf("ana")).toEqual([]);
        expect(await stores.rooms.delete(r.id)).toBeNull();
        expect((await stores.lobby.snapshot()).rooms.map((x) => x.id)).not.toContain(r.id);
        expect((await stores.rooms.create(room({ name: "doomed" }), { id: 1, key: key() })).created).toBe(true);
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
      it("counts sockets per user across nodes: online at the first, offline after the last", async () => {
        const on = await stores.presence.connect("n1", "Ana");
        expect(on).toMatchObject({ username: "Ana" });
        expect(await stores.presence.connect("n2", "ana")).toBeNull();
        expect(await stores.presence.connect("n1", "Ana")).toBeNull();
        expect((await stores.lobby.snapshot()).users).toEqual(["Ana"]);
        expect(await stores.presence.isOnline("ANA")).toBe(true);
        expect(await stores.presence.disconnect("n1", "Ana")).toBeNull();
        expect(await stores.presence.disconnect("n2", "Ana")).toBeNull();
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
        expect((await stores.lobby.snapshot()).users).toEqual(["Bruno"]);
        // A late disconnect from the swept node takes nothing back.
        expect(await stores.presence.disconnect("n1", "Bruno")).toBeNull();
        expect(await stores.presence.isOnline("bruno")).toBe(true);
        expect(await stores.presence.heartbeat("n1", 7000)).toBe(false);
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
  });
}
