/**
 * A socket generator process of the scale benches (forked by generator-pool.ts): opens idle lobby
 * sockets (lean-socket.ts) for the users it is given, churns them on request, and reports what
 * they received. Its requests and answers: generator-protocol.ts.
 */
import type { LoadUser } from "../target.js";
import type { Counters, FromGenerator, GeneratorRequest, OpenRequest, OpenResult, ToGenerator } from "./generator-protocol.js";
import { LeanSocket } from "./lean-socket.js";

interface Slot {
  user: LoadUser;
  url: string;
  socket: LeanSocket;
}

const slots: Slot[] = [];
let origin = "";
let connectTimeoutMs = 20_000;
const churn = { timer: null as NodeJS.Timeout | null, wentOffline: 0, cameBack: 0, reconnectErrors: 0, away: new Set<Promise<void>>() };
let mark = new Map<LeanSocket, { frames: number; bytes: number }>();

function send(message: FromGenerator): void {
  process.send?.(message);
}

async function open(request: OpenRequest): Promise<OpenResult> {
  origin = request.origin;
  connectTimeoutMs = request.connectTimeoutMs;
  const result: OpenResult = { opened: 0, errors: 0, notOpened: 0, errorSamples: [], connectMs: [], lobbyMs: [], lobbyBytes: [], frames: 0, bytes: 0 };
  const opened: LeanSocket[] = [];
  let next = 0;
  const progress = setInterval(() => send({ progress: { opened: result.opened, errors: result.errors } }), 1000);
  const worker = async () => {
    while (next < request.users.length) {
      const i = next++;
      const user = request.users[i]!;
      const url = request.urls[(request.firstIndex + i) % request.urls.length]!;
      if (Date.now() > request.deadline) {
        result.notOpened++;
        continue;
      }
      for (let attempt = 1; ; attempt++) {
        const socket = new LeanSocket({ url, cookie: user.cookie, origin: request.origin, connectTimeoutMs: request.connectTimeoutMs });
        try {
          await socket.connected;
          slots.push({ user, url, socket });
          opened.push(socket);
          result.opened++;
          result.connectMs.push(socket.connectedAt - socket.startedAt);
          break;
        } catch (error) {
          result.errors++;
          if (result.errorSamples.length < 5) result.errorSamples.push((error as Error).message);
          if (attempt >= request.attempts) {
            result.notOpened++;
            break;
          }
          await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
        }
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, request.concurrency) }, worker));
    // The snapshot follows the connect at once; give the last ones a moment to arrive.
    await Promise.race([Promise.all(opened.map((socket) => socket.lobby)), new Promise((resolve) => setTimeout(resolve, 5000))]);
  } finally {
    clearInterval(progress);
  }
  for (const socket of opened) {
    result.frames += socket.frames;
    result.bytes += socket.bytes;
    result.lobbyMs.push(socket.lobbyAt - socket.startedAt);
    result.lobbyBytes.push(socket.lobbyBytes);
  }
  return result;
}

async function close(count = slots.length): Promise<{ closed: number }> {
  const gone = slots.splice(Math.max(0, slots.length - count));
  await Promise.all(gone.map((slot) => slot.socket.close()));
  return { closed: gone.length };
}

/** One churn cycle: slot `index` goes offline, and comes back after `offlineMs` (retrying a refusal). */
function cycle(index: number, offlineMs: number): void {
  const slot = slots[index]!;
  const away = (async () => {
    await slot.socket.close();
    churn.wentOffline++;
    await new Promise((resolve) => setTimeout(resolve, offlineMs));
    for (;;) {
      const socket = new LeanSocket({ url: slot.url, cookie: slot.user.cookie, origin, connectTimeoutMs });
      slot.socket = socket; // never counted as steady: the mark holds the old one
      try {
        await socket.connected;
        churn.cameBack++;
        return;
      } catch {
        churn.reconnectErrors++;
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
  })();
  churn.away.add(away);
  void away.finally(() => churn.away.delete(away));
}

function churnStart(perMinute: number, offlineMs: number): Counters {
  const away = new Set<number>();
  const start = Date.now();
  let started = 0;
  // A random first offset, so that the generators' cycles do not fall on the same instants.
  const offset = Math.random();
  churn.timer = setInterval(() => {
    const due = Math.floor(((Date.now() - start) / 60_000) * perMinute + offset);
    while (started < due) {
      started++;
      // A socket not away already (a socket comes back within seconds; the list has thousands).
      let index = Math.floor(Math.random() * slots.length);
      for (let tries = 0; tries < 20 && (away.has(index) || !slots[index]!.socket.isOpen); tries++) index = Math.floor(Math.random() * slots.length);
      if (away.has(index) || !slots[index]!.socket.isOpen) continue;
      away.add(index);
      cycle(index, offlineMs);
      setTimeout(() => away.delete(index), offlineMs + 30_000);
    }
  }, 50);
  return counters();
}

async function churnStop(): Promise<Counters> {
  if (churn.timer) clearInterval(churn.timer);
  churn.timer = null;
  await Promise.all([...churn.away]);
  return counters();
}

function counters(): Counters {
  return {
    open: slots.filter((slot) => slot.socket.isOpen).length,
    wentOffline: churn.wentOffline,
    cameBack: churn.cameBack,
    reconnectErrors: churn.reconnectErrors,
    steadySockets: 0,
    steadyFrames: 0,
    steadyBytes: 0,
  };
}

function markNow(): Counters {
  mark = new Map(slots.filter((slot) => slot.socket.isOpen).map((slot) => [slot.socket, { frames: slot.socket.frames, bytes: slot.socket.bytes }]));
  return counters();
}

function sinceMark(): Counters {
  const result = counters();
  for (const slot of slots) {
    const before = mark.get(slot.socket);
    if (!before || !slot.socket.isOpen) continue;
    result.steadySockets++;
    result.steadyFrames += slot.socket.frames - before.frames;
    result.steadyBytes += slot.socket.bytes - before.bytes;
  }
  return result;
}

async function handle(request: GeneratorRequest): Promise<unknown> {
  switch (request.cmd) {
    case "open":
      return open(request);
    case "close":
      return close(request.count);
    case "churn-start":
      return churnStart(request.perMinute, request.offlineMs);
    case "churn-stop":
      return churnStop();
    case "mark":
      return markNow();
    case "since-mark":
      return sinceMark();
  }
}

process.on("message", (message: ToGenerator) => {
  handle(message.request).then(
    (answer) => send({ id: message.id, ok: true, answer }),
    (error: unknown) => send({ id: message.id, ok: false, error: error instanceof Error ? error.message : String(error) }),
  );
});
// The parent gone (a crashed bench): nothing left to report to.
process.on("disconnect", () => process.exit(0));
