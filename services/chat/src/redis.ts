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

const SUBSCRIPTION_COMMANDS = ["subscribe", "unsubscribe", "psubscribe", "punsubscribe", "ssubscribe", "sunsubscribe"] as const;

/**
 * The Socket.IO adapter subscribes and unsubscribes without looking at the reply (its SSUBSCRIBE
 * helper drops the promise), and so does ioredis when it resubscribes after a reconnect. Such a
 * command fails when the connection is closed with it pending (at shutdown, with Redis away), and
 * an unobserved rejection ends a Node process: every subscription command's reply is observed
 * here, its failure logged, and the promise handed on unchanged.
 */
function observeSubscriptions(sub: Redis, logger: Logger): void {
  for (const name of SUBSCRIPTION_COMMANDS) {
    const send = (sub[name] as (...args: unknown[]) => Promise<unknown>).bind(sub);
    Object.defineProperty(sub, name, {
      configurable: true,
      writable: true,
      value: (...args: unknown[]) => {
        const reply = send(...args);
        reply.catch((error: Error) => logger.warn({ event: "redis_subscription_failed", command: name, err: error.message }, "a subscription command failed"));
        return reply;
      },
    });
  }
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
  // A (un)subscription asked for while Redis is away waits for the connection, however long that
  // takes, instead of failing after 20 reconnect attempts (~21 s): failed, it would be lost (ioredis
  // resubscribes only to the channels Redis had confirmed), and the node would never hear that
  // room again.
  const sub = new Redis(url, { retryStrategy, maxRetriesPerRequest: null, connectionName: "sala-sub" });
  observeSubscriptions(sub, logger);
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

/**
 * Rejects at once when a connection is down (closed, reconnecting), and otherwise resolves when
 * Redis answers a PING. A frozen Redis (SIGSTOP, a stalled primary, a partition) leaves the
 * connections open and "ready" and never answers: the caller bounds the wait (see health-routes).
 */
export async function redisAnswers(redis: RedisConnections): Promise<void> {
  for (const [name, client] of [["command", redis.command], ["pub", redis.pub], ["sub", redis.sub]] as const) {
    if (client.status !== "ready") throw new Error(`Redis connection ${name} is ${client.status}`);
  }
  await redis.command.ping();
}
