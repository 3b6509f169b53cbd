// The lobby's first page as a node sends it: the changes between two reads (first-page-changes.ts),
// checked against what a client (LobbyState) ends up showing, and the ticker that reads and sends
// them (first-page-ticker.ts).
import { describe, expect, it } from "vitest";
import { byActivity, byName, LobbyState, type LobbyUpdate, type RoomSummary } from "@sala/protocol";
import { firstPageChanges } from "../src/realtime/first-page-changes.js";
import { FirstPageTicker } from "../src/realtime/first-page-ticker.js";
import type { SalaServer } from "../src/realtime/types.js";
import type { LobbyFirstPage } from "../src/stores/types.js";
import { createLogger } from "../src/logger.js";

const silentLogger = createLogger("n1", "silent");

const PAGE = 4;

/** A lobby of users online and rooms with member counts, as the store holds it. */
class Lobby {
  readonly users = new Set<string>();
  readonly rooms = new Map<string, RoomSummary>();
  rev = 0;

  page(size = PAGE): LobbyFirstPage {
    return {
      rev: this.rev,
      counts: { users: this.users.size, rooms: this.rooms.size },
      users: [...this.users].sort(byName).slice(0, size),
      rooms: [...this.rooms.values()].sort(byActivity).slice(0, size).map((room) => ({ ...room })),
    };
  }

  summaries(ids: string[]): RoomSummary[] {
    return ids.flatMap((id) => (this.rooms.has(id) ? [{ ...this.rooms.get(id)! }] : []));
  }
}

function room(id: string, memberCount: number): RoomSummary {
  return { id, name: `room ${id}`, owner: "owner", isPrivate: false, memberCount, createdAt: 1 };
}

/** The update a node sends for `before` → `after` (rooms that left the page resolved as the ticker does). */
function update(lobby: Lobby, before: LobbyFirstPage, after: LobbyFirstPage): LobbyUpdate {
  const { presence, rooms, roomsOff } = firstPageChanges(before, after, PAGE);
  const still = new Map(lobby.summaries(roomsOff).map((r) => [r.id, r]));
  for (const id of roomsOff) rooms.push(still.has(id) ? { room: still.get(id)!, rev: after.rev } : { removed: id, rev: after.rev });
  return { presence, rooms };
}

function snapshotOf(page: LobbyFirstPage) {
  return { ...page, partners: [], myRooms: [], pageSize: PAGE };
}

/** A small deterministic PRNG (mulberry32), so a failure can be replayed. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("first page changes", () => {
  it("sends a user who came onto the page as online, and one who left it as offline only when they would sort within it", () => {
    const before: LobbyFirstPage = { rev: 1, counts: { users: 4, rooms: 0 }, users: ["ana", "bea", "cid", "dan"], rooms: [] };
    // abe came online (pushing dan off), bea went offline, eve stays past the page.
    const after: LobbyFirstPage = { rev: 2, counts: { users: 5, rooms: 0 }, users: ["abe", "ana", "cid", "dan"], rooms: [] };
    expect(firstPageChanges(before, after, PAGE).presence).toEqual([
      { username: "abe", online: true, rev: 2 },
      { username: "bea", online: false, rev: 2 },
    ]);
    // Pushed off by two newcomers: nothing said about cid and dan (the client's trim drops them).
    const pushed: LobbyFirstPage = { rev: 3, counts: { users: 7, rooms: 0 }, users: ["aaa", "aab", "abe", "ana"], rooms: [] };
    expect(firstPageChanges(after, pushed, PAGE).presence.map((change) => [change.username, change.online])).toEqual([
      ["aaa", true],
      ["aab", true],
    ]);
    // A page that is not full holds everyone online: whoever left it went offline.
    const few: LobbyFirstPage = { rev: 4, counts: { users: 2, rooms: 0 }, users: ["aaa", "ana"], rooms: [] };
    expect(firstPageChanges(pushed, few, PAGE).presence.map((change) => [change.username, change.online])).toEqual([
      ["aab", false],
      ["abe", false],
    ]);
  });

  it("sends rooms that came onto the page or changed on it, and leaves the ones that left it to the store", () => {
    const before: LobbyFirstPage = { rev: 1, counts: { users: 0, rooms: 3 }, users: [], rooms: [room("a", 3), room("b", 2), room("c", 1)] };
    const after: LobbyFirstPage = { rev: 2, counts: { users: 0, rooms: 3 }, users: [], rooms: [room("a", 3), room("d", 2), room("b", 1)] };
    const changes = firstPageChanges(before, after, PAGE);
    expect(changes.rooms).toEqual([
      { room: room("d", 2), rev: 2 },
      { room: room("b", 1), rev: 2 },
    ]);
    expect(changes.roomsOff).toEqual(["c"]);
  });

  it("keeps a client's first page equal to the store's, whatever comes online, goes, joins and leaves", () => {
    const next = random(19);
    for (let run = 0; run < 20; run++) {
      const lobby = new Lobby();
      const client = new LobbyState();
      let sent = lobby.page();
      client.applySnapshot(snapshotOf(sent));
      // A second client that joins late, from an older page than the one the node has moved to.
      let late: LobbyState | null = null;
      for (let step = 0; step < 200; step++) {
        const changes = 1 + Math.floor(next() * 4);
        for (let i = 0; i < changes; i++) {
          const pick = next();
          const name = `u${Math.floor(next() * 12)}`;
          const id = `r${Math.floor(next() * 8)}`;
          lobby.rev++;
          if (pick < 0.35) lobby.users.add(name);
          else if (pick < 0.6) lobby.users.delete(name);
          else if (pick < 0.75) lobby.rooms.set(id, room(id, lobby.rooms.get(id)?.memberCount ?? 0));
          else if (pick < 0.85) lobby.rooms.delete(id);
          else if (lobby.rooms.has(id)) lobby.rooms.get(id)!.memberCount = Math.floor(next() * 5);
        }
        const after = lobby.page();
        const sending = update(lobby, sent, after);
        if (step === 100) {
          late = new LobbyState();
          // The update overtakes the snapshot of the older page.
          late.applyUpdate(sending);
          late.applySnapshot(snapshotOf(sent));
        } else late?.applyUpdate(sending);
        client.applyUpdate(sending);
        sent = after;
        for (const state of late ? [client, late] : [client]) {
          expect(state.onlineUsers()).toEqual(after.users);
          expect(state.roomList().sort(byActivity)).toEqual(after.rooms);
        }
      }
    }
  });
});

/** The part of a Socket.IO server the ticker uses: how many lobby sockets, and what it emits to them. */
function fakeServer(lobbySockets: number) {
  const emitted: Array<[string, unknown]> = [];
  /** The socket ids each emit went to. */
  const recipients: string[][] = [];
  const io = {
    of: () => ({ adapter: { rooms: new Map([["lobby", new Set(Array.from({ length: lobbySockets }, (_, i) => String(i)))]]) } }),
    local: {
      to: (ids: string[]) => ({
        emit: (event: string, payload: unknown) => {
          emitted.push([event, payload]);
          recipients.push(ids);
        },
      }),
    },
  } as unknown as SalaServer;
  return { io, emitted, recipients };
}

describe("FirstPageTicker", () => {
  function ticker(lobby: Lobby, io: SalaServer, counter: { pages: number }) {
    const store = {
      firstPage: async (size: number) => {
        counter.pages++;
        return lobby.page(size);
      },
      rev: async () => lobby.rev,
    };
    return new FirstPageTicker(io, store, { summaries: async (ids) => lobby.summaries(ids) }, { pageSize: PAGE, tickMs: 1000, sendsPerSec: 1000 }, silentLogger);
  }

  it("reads the page only when the lobby's revision moved, and sends its lobby sockets the changes and the new counts", async () => {
    const lobby = new Lobby();
    lobby.users.add("ana");
    lobby.rev = 1;
    const { io, emitted } = fakeServer(3);
    const counter = { pages: 0 };
    const feed = ticker(lobby, io, counter);
    expect((await feed.current()).users).toEqual(["ana"]);
    emitted.length = 0;
    await feed.tick();
    expect(counter.pages).toBe(1); // the revision did not move
    expect(emitted).toEqual([]);
    lobby.users.add("bob");
    lobby.rooms.set("r1", room("r1", 0));
    lobby.rev = 3;
    await feed.tick();
    expect(counter.pages).toBe(2);
    expect(emitted).toEqual([
      ["lobby_update", { presence: [{ username: "bob", online: true, rev: 3 }], rooms: [{ room: room("r1", 0), rev: 3 }] }],
      ["lobby_counts", { users: 2, rooms: 1, rev: 3 }],
    ]);
    expect((await feed.current()).users).toEqual(["ana", "bob"]);
  });

  it("ticks slower when its lobby sockets would get more than the budget (two messages per socket per tick)", () => {
    const counter = { pages: 0 };
    expect(ticker(new Lobby(), fakeServer(100).io, counter).tickInterval()).toBe(1000);
    expect(ticker(new Lobby(), fakeServer(5000).io, counter).tickInterval()).toBe(10_000);
  });

  it("gives a snapshot a page newer than what it asks about while the budget allows, else the last tick's", async () => {
    const lobby = new Lobby();
    lobby.users.add("ana");
    lobby.rev = 1;
    const quiet = fakeServer(3);
    const counter = { pages: 0 };
    const feed = ticker(lobby, quiet.io, counter);
    await feed.current();
    await new Promise((resolve) => setTimeout(resolve, 10)); // 3 sockets: 6 ms between ticks at 1000/s
    lobby.users.add("bob");
    lobby.rev = 2;
    // bob's snapshot: read now, and the node's other lobby sockets get the change at the same time.
    expect((await feed.current(Date.now())).users).toEqual(["ana", "bob"]);
    expect(quiet.emitted[0]).toEqual(["lobby_update", { presence: [{ username: "bob", online: true, rev: 2 }], rooms: [] }]);

    // 5000 lobby sockets at 1000 messages/s: ten seconds between ticks that send. The snapshot
    // waits for none.
    const busy = fakeServer(5000);
    const busyFeed = ticker(lobby, busy.io, counter);
    await busyFeed.current();
    lobby.users.add("bea");
    lobby.rev = 3;
    await busyFeed.tick(); // sends bea: the budget's clock starts
    busy.emitted.length = 0;
    await new Promise((resolve) => setTimeout(resolve, 5));
    const pagesRead = counter.pages;
    lobby.users.add("cid");
    lobby.rev = 4;
    expect((await busyFeed.current(Date.now())).users).toEqual(["ana", "bea", "bob"]);
    expect(counter.pages).toBe(pagesRead);
    expect(busy.emitted.filter(([event]) => event === "lobby_update")).toEqual([]);
  });

  it("sends a tick's messages to its lobby sockets in slices of 500, each socket once, letting the event loop run between them", async () => {
    const lobby = new Lobby();
    lobby.rev = 1;
    const server = fakeServer(1200);
    const feed = ticker(lobby, server.io, { pages: 0 });
    await feed.current();
    lobby.users.add("ana");
    lobby.rev = 2;
    let ranBetween = false;
    setImmediate(() => (ranBetween = server.emitted.length > 0 && server.emitted.length < 6));
    await feed.tick();
    expect(server.emitted.map(([event]) => event)).toEqual(["lobby_update", "lobby_counts", "lobby_update", "lobby_counts", "lobby_update", "lobby_counts"]);
    expect(server.recipients.map((ids) => ids.length)).toEqual([500, 500, 500, 500, 200, 200]);
    const updated = server.recipients.filter((_, i) => server.emitted[i]![0] === "lobby_update").flat();
    expect(new Set(updated).size).toBe(1200);
    expect(ranBetween).toBe(true);
  });

  it("gives a snapshot the page a tick has read without waiting for that tick's sends", async () => {
    const lobby = new Lobby();
    lobby.rev = 1;
    const server = fakeServer(1200); // 2.4 s between ticks at 1000 messages/s
    const feed = ticker(lobby, server.io, { pages: 0 });
    await feed.current();
    lobby.users.add("ana");
    lobby.rev = 2;
    let sent = false;
    const ticking = feed.tick().then(() => (sent = true));
    await new Promise((resolve) => setImmediate(resolve)); // the first slice went out
    expect((await feed.current(Date.now() + 1)).users).toEqual(["ana"]);
    expect(sent).toBe(false);
    await ticking;
    expect(server.recipients.flat()).toHaveLength(2400);
  });

  it("fails a snapshot's read when the store cannot be read, and reads again on the next one", async () => {
    const lobby = new Lobby();
    let down = true;
    const store = {
      firstPage: async (size: number) => {
        if (down) throw new Error("Connection is closed.");
        return lobby.page(size);
      },
      rev: async () => lobby.rev,
    };
    const feed = new FirstPageTicker(fakeServer(1).io, store, { summaries: async () => [] }, { pageSize: PAGE, tickMs: 1000, sendsPerSec: 1000 }, silentLogger);
    await expect(feed.current()).rejects.toThrow("Connection is closed.");
    down = false;
    expect(await feed.current()).toMatchObject({ users: [], rev: 0 });
  });
});
