/**
 * The SQLite room and lobby stores beyond the store contract (stores-sqlite.unit.test.ts runs that):
 * their data read back from the file by a new handle after the first is closed — what a restart
 * does — and the parts the contract cannot see: histories purged in bounded chunks (resumed after
 * a restart), message ids remembered across a restart and forgotten after their window, and name
 * pages bounded at the top of the code point range.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Revision } from "../src/stores/memory/revision.js";
import { openDatabase, type SqliteDatabase } from "../src/stores/sqlite/database.js";
import { createSqliteStoresHere } from "../src/stores/sqlite/index.js";
import { SqliteRoomStore } from "../src/stores/sqlite/rooms.js";
import type { HistoryCap, RoomRecord } from "../src/stores/types.js";

describe("sqlite rooms on a file, across a restart", () => {
  let dir = "";
  let path = "";
  const handles: SqliteDatabase[] = [];
  const open = () => {
    const db = openDatabase(path);
    handles.push(db);
    return { db, stores: createSqliteStoresHere(db) };
  };
  const rowsOf = (db: SqliteDatabase, table: string) => db.prepare(`SELECT COUNT(*) FROM ${table}`).pluck().get() as number;
  /** Turns of the event loop until the purge drain has emptied room_purge (or it gives up). */
  const drained = async (db: SqliteDatabase) => {
    for (let turn = 0; turn < 200 && rowsOf(db, "room_purge") > 0; turn++) await new Promise((resolve) => setImmediate(resolve));
    return rowsOf(db, "room_purge") === 0;
  };
  const room = (id: string, overrides: Partial<RoomRecord> = {}): RoomRecord => ({ id, name: id, owner: "ana", passwordHash: null, createdAt: 1, ...overrides });
  const cap = (maxMessages: number, maxAgeMs = 0): HistoryCap => ({ maxMessages, maxAgeMs });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "sala-sqlite-rooms-"));
    path = join(dir, "data", "sala.db");
  });
  afterEach(async () => {
    for (const db of handles.splice(0)) if (db.open) db.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("keeps rooms, keys, members, bars, history, edits and the lobby's indexes", async () => {
    const first = open();
    let { rooms } = first.stores;
    const sala = room("room-1", { name: "Sala Um", owner: "Ana", passwordHash: "argon-hash", createdAt: 1000 });
    expect(await rooms.create(sala, { id: 1, key: "k1" }, 0)).toMatchObject({ created: true });
    await rooms.create(room("room-2", { name: "Outra" }), { id: 1, key: "o1" }, 0);
    await rooms.admit("room-1", "Ana", "argon-hash");
    await rooms.admit("room-1", "Bob", "argon-hash");
    await rooms.bar("room-1", "Cid", 1500);
    for (let i = 1; i <= 4; i++) await rooms.acceptMessage({ roomId: "room-1", keyId: 1, from: "Ana", ts: 2000 + i, msg: `m${i}`, clientId: `client-id-${i}` }, cap(3));
    const rotated = await rooms.rotateKey("room-1", "k2");
    await rooms.changeMessage({ roomId: "room-1", seq: 2, by: "ana", at: 3000, edit: { keyId: 2, msg: "e2" } }, { maxAgeMs: 0 });
    await rooms.changeMessage({ roomId: "room-1", seq: 3, by: "ana", at: 3001 }, { maxAgeMs: 0 });
    await rooms.setRetention("room-1", 10);
    first.db.close();

    const second = open();
    ({ rooms } = second.stores);
    const { lobby } = second.stores;
    expect(await rooms.get("room-1")).toEqual(sala);
    expect(await rooms.summary("room-1")).toEqual({ id: "room-1", name: "Sala Um", owner: "Ana", isPrivate: true, memberCount: 2, createdAt: 1000 });
    expect(await rooms.currentKey("room-1")).toEqual(rotated);
    expect(await rooms.keysById("room-1", [1, 2])).toEqual([{ id: 1, key: "k1" }, rotated]);
    expect((await rooms.members("room-1")).sort()).toEqual(["Ana", "Bob"]);
    expect(await rooms.barred("room-1")).toEqual(["Cid"]);
    expect(await rooms.admit("room-1", "cid", "argon-hash")).toEqual({ refused: "barred" });
    expect(await rooms.roomsOf("BOB")).toEqual(["room-1"]);
    expect((await rooms.ownedBy("ana")).sort()).toEqual(["room-1", "room-2"]);
    expect(await rooms.idleRooms(Number.MAX_SAFE_INTEGER, 10)).toEqual(["room-2"]);
    expect(await lobby.counts()).toEqual({ users: 0, rooms: 2 }); // nobody is online after a restart
    expect((await lobby.firstPage(1)).rooms.map((r) => r.id)).toEqual(["room-1"]);
    expect((await lobby.roomPage({ prefix: "sala", after: null, limit: 10 })).items.map((r) => r.id)).toEqual(["room-1"]);
    expect(await rooms.history("room-1", { limit: 10 })).toEqual([
      { roomId: "room-1", seq: 2, from: "Ana", ts: 2002, msg: "e2", editedAt: 3000 },
      { roomId: "room-1", seq: 3, from: "Ana", ts: 2003, msg: "", deleted: true },
      { roomId: "room-1", seq: 4, from: "Ana", ts: 2004, msg: "m4" },
    ]);
    // The name and its look-alikes stay taken; numbering goes on; the room's own retention holds.
    expect(await rooms.create(room("room-3", { name: "SALA UM" }), { id: 1, key: "k" }, 0)).toEqual({ created: false, reason: "name_taken" });
    await expect(rooms.create(room("room-3", { name: "Sa1a Um" }), { id: 1, key: "k" }, 0)).rejects.toMatchObject({ existing: "Sala Um" });
    expect(await rooms.acceptMessage({ roomId: "room-1", keyId: 2, from: "Bob", ts: 2101, msg: "m5" }, cap(100))).toMatchObject({ seq: 5, duplicate: false });
    await rooms.setRetention("room-1", 2);
    expect((await rooms.history("room-1", { limit: 10 })).map((m) => m.seq)).toEqual([4, 5]);
  });

  it("answers a send repeated after a restart with its first answer, until the id's window is over", async () => {
    const first = open();
    await first.stores.rooms.create(room("r"), { id: 1, key: "k" }, 0);
    await first.stores.rooms.admit("r", "ana", null);
    const send = (stores: typeof first.stores, ts: number, clientId: string) => stores.rooms.acceptMessage({ roomId: "r", keyId: 1, from: "ana", ts, msg: "x", clientId }, cap(100));
    expect(await send(first.stores, 1000, "abcdefgh01")).toEqual({ seq: 1, ts: 1000, duplicate: false, announced: false });
    expect(await send(first.stores, 1001, "abcdefgh02")).toMatchObject({ seq: 2 });
    first.db.close();

    const { stores } = open();
    expect(await send(stores, 5000, "abcdefgh01")).toEqual({ seq: 1, ts: 1000, duplicate: true, announced: false });
    expect((await stores.rooms.history("r", { limit: 10 })).map((m) => m.seq)).toEqual([1, 2]);
    // The window (MESSAGE_ID_WINDOW_SEC's default, 600 s) is over: the id is a new message.
    expect(await send(stores, 1001 + 600_000, "abcdefgh02")).toMatchObject({ seq: 3, duplicate: false });
  });

  it("commits the messages of one turn together, in order, a retry within the turn answered as a repeat", async () => {
    const { db, stores } = open();
    await stores.rooms.create(room("busy"), { id: 1, key: "k" }, 0);
    await stores.rooms.admit("busy", "ana", null);
    const commits = () => db.prepare("SELECT seq FROM rooms WHERE id = 'busy'").pluck().get() as number;
    const send = (i: number, clientId: string) => stores.rooms.acceptMessage({ roomId: "busy", keyId: 1, from: "ana", ts: 1000 + i, msg: `m${i}`, clientId }, cap(5000));
    const answers = Promise.all([send(1, "abcdefgh01"), send(2, "abcdefgh02"), send(3, "abcdefgh01"), send(4, "abcdefgh04")]);
    expect(commits()).toBe(0); // nothing written yet: the turn's batch commits after it
    expect(await answers).toEqual([
      { seq: 1, ts: 1001, duplicate: false, announced: false },
      { seq: 2, ts: 1002, duplicate: false, announced: false },
      { seq: 1, ts: 1001, duplicate: true, announced: false },
      { seq: 3, ts: 1004, duplicate: false, announced: false },
    ]);
    expect((await stores.rooms.history("busy", { limit: 10 })).map((m) => m.msg)).toEqual(["m1", "m2", "m4"]);
    // Remembered once committed: a later retry is a repeat too.
    expect(await send(5, "abcdefgh02")).toEqual({ seq: 2, ts: 1002, duplicate: true, announced: false });
  });

  it("fails only the message at fault in a batch; a file-wide failure fails the batch at once", async () => {
    const { db, stores } = open();
    await stores.rooms.create(room("mixed"), { id: 1, key: "k" }, 0);
    await stores.rooms.admit("mixed", "ana", null);
    const send = (msg: unknown, clientId: string) =>
      stores.rooms.acceptMessage({ roomId: "mixed", keyId: 1, from: "ana", ts: 1000, msg: msg as string, clientId }, cap(5000)).then(
        (result) => result,
        (error: Error) => `refused: ${error.constructor.name}`,
      );
    // Not text: SQLite cannot bind it, and the batch is tried again message by message.
    expect(await Promise.all([send("a", "abcdefgh01"), send({ not: "text" }, "abcdefgh02"), send("a", "abcdefgh01"), send("c", "abcdefgh03")])).toEqual([
      { seq: 1, ts: 1000, duplicate: false, announced: false },
      "refused: RangeError",
      { seq: 1, ts: 1000, duplicate: true, announced: false },
      { seq: 2, ts: 1000, duplicate: false, announced: false },
    ]);
    db.close(); // the file gone: both refused with the connection's error, neither tried alone
    expect(await Promise.all([send("d", "abcdefgh04"), send("e", "abcdefgh05")])).toEqual(["refused: TypeError", "refused: TypeError"]);
  });

  it("purges a cleared history and a deleted room's rows a chunk at a time, resuming after a restart", async () => {
    const first = open();
    for (const id of ["kept", "doomed"]) {
      await first.stores.rooms.create(room(id), { id: 1, key: "k" }, 0);
      await first.stores.rooms.admit(id, "ana", null);
      for (let i = 1; i <= 1200; i++) await first.stores.rooms.acceptMessage({ roomId: id, keyId: 1, from: "ana", ts: i, msg: "x", clientId: `id-${i}-abcdef` }, cap(5000));
    }
    expect(rowsOf(first.db, "room_messages")).toBe(2400);

    // A clear hides every message at once and deletes one chunk (500) in the same step; the drain does the rest.
    await first.stores.rooms.clearHistory("kept");
    expect(await first.stores.rooms.history("kept", { limit: 10 })).toEqual([]);
    expect(rowsOf(first.db, "room_messages")).toBe(2400 - 500);
    expect(await drained(first.db)).toBe(true);
    expect(rowsOf(first.db, "room_messages")).toBe(1200);

    // A deleted room is gone at once; the file is closed before its rows are purged.
    expect(await first.stores.rooms.delete("doomed")).toEqual({ members: ["ana"], rev: expect.any(Number) });
    expect(await first.stores.lobby.counts()).toMatchObject({ rooms: 1 });
    first.db.close();

    const second = open();
    expect(rowsOf(second.db, "room_messages")).toBe(1200);
    // A new room under the same id starts empty: the old rows are not its own.
    await second.stores.rooms.create(room("doomed"), { id: 1, key: "new" }, 0);
    await second.stores.rooms.admit("doomed", "ana", null);
    expect(await second.stores.rooms.history("doomed", { limit: 10 })).toEqual([]);
    expect(await second.stores.rooms.acceptMessage({ roomId: "doomed", keyId: 1, from: "ana", ts: 10, msg: "y", clientId: "id-1-abcdef" }, cap(100))).toMatchObject({
      seq: 1,
      duplicate: false,
    });
    // The drain resumed at start: the old room's messages and keys are gone, the new one's stay.
    expect(await drained(second.db)).toBe(true);
    expect(rowsOf(second.db, "room_messages")).toBe(1);
    expect(await second.stores.rooms.keysById("doomed", [1])).toEqual([{ id: 1, key: "new" }]);
    expect(rowsOf(second.db, "room_keys")).toBe(2);
    expect(await second.stores.rooms.acceptMessage({ roomId: "kept", keyId: 1, from: "ana", ts: 1201, msg: "y" }, cap(5000))).toMatchObject({ seq: 1201 });
  });

  it("deletes the rows a write's cap leaves behind in batches, never showing them", async () => {
    const { db } = open();
    // The store alone, on its own revision: what createSqliteStoresHere wires, without the other stores.
    const rooms = new SqliteRoomStore(db, new Revision());
    await rooms.create(room("r"), { id: 1, key: "k" }, 0);
    await rooms.admit("r", "ana", null);
    for (let i = 1; i <= 100; i++) await rooms.acceptMessage({ roomId: "r", keyId: 1, from: "ana", ts: i, msg: `m${i}` }, cap(10));
    expect((await rooms.history("r", { limit: 100 })).map((m) => m.seq)).toEqual(Array.from({ length: 10 }, (_, i) => 91 + i));
    // 90 rows fell below the cap; they went in batches of 64, so fewer than 64 wait.
    const stored = rowsOf(db, "room_messages");
    expect(stored).toBeGreaterThanOrEqual(10);
    expect(stored).toBeLessThan(10 + 64);
    expect(stored).toBe(10 + (90 % 64));
  });

  it("pages rooms by a prefix that ends at the top of the code point range", async () => {
    const { stores } = open();
    for (const name of ["a\u{10FFFF}x", "a\u{10FFFF}", "b", "a\u{10FFFE}", "\u{10FFFF}z"]) {
      expect((await stores.rooms.create(room(`id ${name}`, { name }), { id: 1, key: "k" }, 0)).created).toBe(true);
    }
    const names = async (prefix: string) => (await stores.lobby.roomPage({ prefix, after: null, limit: 10 })).items.map((r) => r.name);
    expect(await names("a\u{10FFFF}")).toEqual(["a\u{10FFFF}", "a\u{10FFFF}x"]);
    expect(await names("a")).toEqual(["a\u{10FFFE}", "a\u{10FFFF}", "a\u{10FFFF}x"]);
    expect(await names("\u{10FFFF}")).toEqual(["\u{10FFFF}z"]);
  });
});
