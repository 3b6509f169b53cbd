/** The store thread's module (client.ts starts it): serves the SQLite stores to the node's event loop. */
import { parentPort, workerData } from "node:worker_threads";
import { serveStores, type StoreThreadData } from "./host.js";
import type { LogLine } from "./wire.js";

// A promise nobody handled would end this thread (and with it every answer of the node): logged
// instead, as server.ts does on the main thread. A thrown exception still ends it (client.ts: lost).
process.on("unhandledRejection", (reason: unknown) => {
  const err = reason instanceof Error ? { name: reason.name, message: reason.message, stack: reason.stack } : String(reason);
  parentPort!.postMessage({ log: "error", fields: { event: "unhandled_rejection", thread: "store", err }, msg: "a promise failed on the store thread and nobody handled it" } satisfies LogLine);
});

serveStores(parentPort!, workerData as StoreThreadData);
