/**
 * `npm run bench -- store-costs [--quick]`: where the embedded SQLite store's extra CPU per room
 * message goes (issue 22, item 5), measured on the store's own code in this process, without a
 * node or sockets around it: the node-level figure (embedded-store.ts) says how much more a
 * message costs on SQLite than on memory; this says what that difference is made of.
 *
 * Three ways of accepting a message into a 4-member room, one message at a time 1 ms apart (a
 * message alone in its turn, as a node at 500 msg/s over 250 rooms mostly sees them; at higher
 * rates the node spreads a commit and a hand-off over the messages of a turn), in interleaved
 * rounds (rounds.ts's reason: the machine drifts):
 *
 * - memory: the memory store (STORE=memory);
 * - SQLite here: the SQLite store on this thread (as session 15 ran it on the event loop, its WAL
 *   checkpointed by a thread of its own): its statements and one commit per message;
 * - SQLite thread: the same store on its store thread, as a node runs it (stores/sqlite/thread/):
 *   the above plus a round trip between the threads.
 *
 * and one indexed read (`isMember`) here and through the thread: the round trip alone. CPU is
 * this process's (the store thread's included) from each call to its answer; what either thread
 * does after answering is left out with the timers between calls — for both SQLite stores, the WAL
 * checkpoints (a thread of their own, about once a second) and the garbage collection that
 * follows. The rooms stay below their history cap (as in the node-level bench), so no trimming is
 * in these figures either: both would add to SQLite's side. The node-level figure has it all.
 * Prints markdown; writes nothing.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { Revision } from "@sala/chat/dist/stores/memory/revision.js";
import { createMemoryStores } from "@sala/chat/dist/stores/memory/index.js";
import { WalCheckpointer } from "@sala/chat/dist/stores/sqlite/checkpointer.js";
import { openDatabase, type SqliteDatabase } from "@sala/chat/dist/stores/sqlite/database.js";
import { createSqliteStoresHere } from "@sala/chat/dist/stores/sqlite/index.js";
import { SqliteThread } from "@sala/chat/dist/stores/sqlite/thread/client.js";
import type { HistoryCap, RoomStore } from "@sala/chat/dist/stores/types.js";
import { sleep } from "@sala/cluster/processes";
import type { ProgressLine } from "../driver/progress.js";
import { coreLayout } from "./cores.js";
import { machineDescription, pin } from "./machine.js";
import { median } from "./rounds.js";

export interface StoreCostsSize {
  /** Messages (and reads) per store per round. */
  calls: number;
  rounds: number;
}

export const STORE_COSTS_FULL: StoreCostsSize = { calls: 3000, rounds: 3 };
export const STORE_COSTS_QUICK: StoreCostsSize = { calls: 500, rounds: 2 };

const ROOMS = 250;
const MEMBERS = 4;
/** run.ts's default history cap (HISTORY_MAX), no age cap. */
const CAP: HistoryCap = { maxMessages: 1000, maxAgeMs: 0 };
const GAP_MS = 1;
/** A sealed 100-byte chat line (chat-payload.ts) is about this long. */
const ENVELOPE = JSON.stringify({ v: 1, keyId: 1, iv: "A".repeat(24), ct: "B".repeat(236) });

type Variant = "memory" | "SQLite here" | "SQLite thread";
const VARIANTS: Variant[] = ["memory", "SQLite here", "SQLite thread"];

const member = (room: number, i: number) => `m${room}x${i}`;
const roomId = (room: number) => `cost-room-${room}`;

/** This process's CPU in µs (every thread: the store thread's too). */
function cpuUs(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

/**
 * CPU µs per call of `call`, the calls `GAP_MS` apart: summed from each call's start to its answer
 * (what the two threads spend meanwhile), so that the timers between calls are left out.
 */
async function perCall(count: number, call: (i: number) => Promise<unknown>): Promise<number> {
  let total = 0;
  for (let i = 0; i < count; i++) {
    const from = cpuUs();
    await call(i);
    total += cpuUs() - from;
    await sleep(GAP_MS);
  }
  return total / count;
}

async function fillRooms(rooms: RoomStore): Promise<void> {
  for (let r = 0; r < ROOMS; r++) {
    const creation = await rooms.create({ id: roomId(r), name: `Cost room ${r}`, owner: member(r, 0), passwordHash: null, createdAt: Date.now() }, { id: 1, key: "k".repeat(44) }, ROOMS);
    if (!creation.created) throw new Error(`room ${r} was not created: ${JSON.stringify(creation)}`);
    for (let m = 0; m < MEMBERS; m++) await rooms.admit(roomId(r), member(r, m), null);
  }
}

interface Measured {
  acceptUs: Record<Variant, number[]>;
  readUs: { here: number[]; thread: number[] };
}

export async function storeCostsBench(size: StoreCostsSize, progress: ProgressLine): Promise<string> {
  const cores = coreLayout(availableParallelism());
  // Both threads on one core, as the bench's node runs (embedded-store.ts pins it to one core).
  const pinned = await pin(process.pid, cores.server(0));
  const dir = mkdtempSync(join(tmpdir(), "sala-bench-store-costs-"));
  const hereFile = join(dir, "here.sqlite");
  const threadFile = join(dir, "thread.sqlite");
  let thread: SqliteThread | null = null;
  let hereDb: SqliteDatabase | null = null;
  let checkpointer: WalCheckpointer | null = null;
  // A store that logs a warning (a checkpoint failed, its thread lost) is not measuring what it says.
  const logged: string[] = [];
  const log = { warn: (fields: object, msg: string) => logged.push(`${msg} ${JSON.stringify(fields)}`), error: (fields: object, msg: string) => logged.push(`${msg} ${JSON.stringify(fields)}`) };
  try {
    progress.phase("filling 250 rooms of 4 in each store…");
    const memory = createMemoryStores().rooms;
    hereDb = openDatabase(hereFile);
    // Checkpointed as the store thread checkpoints its file (session 15 ran the loop's the same way).
    checkpointer = new WalCheckpointer(hereDb, hereFile, log);
    const here = createSqliteStoresHere(hereDb).rooms;
    openDatabase(threadFile).close();
    thread = await SqliteThread.start({ file: threadFile, revision: new Revision().buffer, messageIdWindowSec: 600, sessionIdleMs: 3_600_000 }, log);
    const remote = thread.remote<RoomStore>("rooms");
    const stores: Record<Variant, RoomStore> = { memory, "SQLite here": here, "SQLite thread": remote };
    for (const rooms of Object.values(stores)) await fillRooms(rooms);

    const measured: Measured = { acceptUs: { memory: [], "SQLite here": [], "SQLite thread": [] }, readUs: { here: [], thread: [] } };
    let sent = 0;
    const accept = (rooms: RoomStore) => async () => {
      const n = sent++;
      const room = n % ROOMS;
      const result = await rooms.acceptMessage({ roomId: roomId(room), keyId: 1, from: member(room, n % MEMBERS), ts: Date.now(), msg: ENVELOPE, clientId: `c${n}` }, CAP);
      if (!result || !("seq" in result) || result.duplicate) throw new Error(`a message was not accepted: ${JSON.stringify(result)}`);
    };
    const read = (rooms: RoomStore) => async (i: number) => {
      if (!(await rooms.isMember(roomId(i % ROOMS), member(i % ROOMS, i % MEMBERS)))) throw new Error("a member was not found");
    };
    for (const rooms of Object.values(stores)) await perCall(200, accept(rooms)); // warm-up: compiled code, caches

    for (let round = 0; round < size.rounds; round++) {
      progress.phase(`round ${round + 1}/${size.rounds}: ${size.calls} messages and reads per store, ${GAP_MS} ms apart…`);
      const order = round % 2 === 0 ? VARIANTS : [...VARIANTS].reverse();
      for (const variant of order) measured.acceptUs[variant].push(await perCall(size.calls, accept(stores[variant])));
      measured.readUs.here.push(await perCall(size.calls, read(here)));
      measured.readUs.thread.push(await perCall(size.calls, read(remote)));
    }
    if (logged.length > 0) throw new Error(`the stores logged trouble during the run, so its figures are not the stores' own:\n${logged.join("\n")}`);
    return report(size, pinned ? `this process pinned to core ${cores.server(0)} (the store thread with it)` : "not pinned (taskset failed)", measured);
  } finally {
    progress.done();
    // Each step whatever the one before did: a failed stop must not leave the rest open.
    await thread?.stop().catch(() => undefined);
    await checkpointer?.stop().catch(() => undefined);
    hereDb?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const f = (n: number) => n.toFixed(1);

function report(size: StoreCostsSize, pinning: string, m: Measured): string {
  const accept = (variant: Variant) => median(m.acceptUs[variant]);
  const roundTrip = median(m.readUs.thread) - median(m.readUs.here);
  const lines: string[] = [];
  lines.push(`Machine: ${machineDescription()}; ${pinning}.`);
  lines.push(
    `${ROOMS} rooms of ${MEMBERS}; per store and round ${size.calls} messages (a ${ENVELOPE.length}-character envelope, HISTORY_MAX ${CAP.maxMessages}) one at a time ${GAP_MS} ms apart, then as many isMember reads; ${size.rounds} interleaved rounds, the median round. CPU: this process's, every thread, from each call to its answer.`,
  );
  lines.push("", "| store | CPU µs per message (per round) |", "|---|---|");
  for (const variant of VARIANTS) lines.push(`| ${variant} | ${f(accept(variant))} (${m.acceptUs[variant].map(f).join(" / ")}) |`);
  lines.push("", "| isMember | CPU µs per read (per round) |", "|---|---|");
  lines.push(`| SQLite here | ${f(median(m.readUs.here))} (${m.readUs.here.map(f).join(" / ")}) |`);
  lines.push(`| SQLite thread | ${f(median(m.readUs.thread))} (${m.readUs.thread.map(f).join(" / ")}) |`);
  lines.push("", "**What a message costs on SQLite beyond memory**", "");
  lines.push(`- Statements and commit (SQLite here − memory): ${f(accept("SQLite here") - accept("memory"))} µs.`);
  lines.push(`- The store thread's round trip (isMember through the thread − here): ${f(roundTrip)} µs.`);
  lines.push(`- A message alone in its turn, in all (SQLite thread − memory): ${f(accept("SQLite thread") - accept("memory"))} µs.`);
  lines.push(
    "- Issue 22's CPU target (≤ 1.3× memory's per message) leaves 0.3 × the memory node's µs per message for this: read that from `npm run bench -- embedded-store` (the memory node's row).",
  );
  return lines.join("\n");
}
