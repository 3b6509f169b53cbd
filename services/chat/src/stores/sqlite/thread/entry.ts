/** The store thread's module (client.ts starts it): serves the SQLite stores to the node's event loop. */
import { parentPort, workerData } from "node:worker_threads";
import { serveStores, type StoreThreadData } from "./host.js";

serveStores(parentPort!, workerData as StoreThreadData);
