import { Redis } from "ioredis";
import type { Logger } from "./logger.js";

/**
 * The node's Redis connections: one for commands (stores, sessions, rate limits) and a pub/sub
 * pair for the Socket.IO adapter.
 *
 * The command connection fails fast while Redis is unreachable (no offline queue, bounded command
 * time): a request then gets an UNAVAILABLE error instead of hanging. ioredis reconnects by itself
 * and the subscriber resubscribes to its channels when it does.
 */
export interface RedisConnections {
  command: Redis;
  pub: Redis;
  sub: Redis;
  close(): Promise<void>;
}

function waitReady(client: Redis, name: string, timeoutMs: number): Promise<void> {
  if (client.status === "ready") return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`Redis (${name}) not ready after ${timeoutMs} ms`));
    }, timeoutMs);
    const onReady = () => {
      cleanup();
      resolve();
    };
    const cleanup = () => {
      clearTimeout(timer);
      client.off("ready", onReady);
    };
    client.on("ready", onReady);
  });
}

export async function connectRedis(url: string, logger: Logger, onError: () => void = () => {}, timeoutMs = 10_000): Promise<RedisConnections> {
  const retryStrategy = (attempt: number) => Math.min(100 * attempt, 2000);
  const command = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 2000,
    // No automatic pipelining: ioredis runs one auto-pipeline at a time per connection, so under
    // load every command waited for the previous batch's replies, and the commands (with their
    // arguments) outlived young-generation GCs: measured in 4-member rooms at 1,000 msg/s, 14 %
    // more CPU per message and 4.5x the bytes promoted per scavenge. Handshakes, which send a few
    // commands together, were no faster with it (docs/BENCHMARKS.md).
    retryStrategy,
    connectionName: "sala-command",
  });
  // The adapter's connections keep their offline queue: a broadcast sent during a blip is
  // delivered once Redis is back rather than thrown away.
  const pub = new Redis(url, { retryStrategy, connectionName: "sala-pub" });
  const sub = new Redis(url, { retryStrategy, connectionName: "sala-sub" });
  const clients = { command, pub, sub };
  for (const [name, client] of Object.entries(clients)) {
    let wasReady = false;
    client.on("ready", () => {
      if (wasReady) logger.info({ connection: name }, "redis reconnected");
      wasReady = true;
    });
    client.on("error", (error: Error) => {
      onError();
      logger.warn({ connection: name, err: error.message }, "redis connection error");
    });
  }
  // QUIT when connected (pending replies arrive first), bounded in time; a connection that is down
  // would queue QUIT until Redis returns, so it is just dropped.
  const close = async () => {
    await Promise.allSettled(
      Object.values(clients).map((client) =>
        client.status === "ready" ? Promise.race([client.quit(), new Promise((resolve) => setTimeout(resolve, 1000))]) : undefined,
      ),
    );
    for (const client of Object.values(clients)) client.disconnect();
  };
  try {
    await Promise.all(Object.entries(clients).map(([name, client]) => waitReady(client, name, timeoutMs)));
  } catch (error) {
    await close();
    throw error;
  }
  return { ...clients, close };
}
