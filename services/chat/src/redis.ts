import { Cluster, Redis, type ClusterOptions, type RedisOptions } from "ioredis";
import type { RedisEndpoint, RedisSettings } from "./config.js";
import type { Logger } from "./logger.js";

/** One Redis server or a Redis Cluster: the stores speak to either through the same commands. */
export type RedisClient = Redis | Cluster;

/**
 * The node's Redis connections: one for commands (stores, sessions, rate limits) and a pub/sub
 * pair for the Socket.IO adapter; on a Redis Cluster each is an ioredis Cluster (a connection per
 * shard), the subscriber with sharded subscribers (a connection per primary).
 *
 * The command connection fails fast while Redis is unreachable (no offline queue, bounded command
 * time): a request then gets an UNAVAILABLE error instead of hanging. ioredis reconnects by itself
 * and the subscriber resubscribes to its channels when it does.
 */
export interface RedisConnections {
  command: RedisClient;
  pub: RedisClient;
  sub: RedisClient;
  /** True on a Redis Cluster. */
  cluster: boolean;
  /**
   * Resolves once Redis has answered every (un)subscription asked for so far (each SSUBSCRIBE
   * reply means the subscription is in effect on its shard), or after `timeoutMs`; never fails.
   */
  subscriptionsSettled(timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

function waitReady(client: RedisClient, name: string, timeoutMs: number): Promise<void> {
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
 * command fails when the connection is closed with it pending (at shutdown, with Redis away, a
 * MOVED during a resharding), and an unobserved rejection ends a Node process: every subscription
 * command's reply is observed here, its failure logged, and the promise handed on unchanged. The
 * replies still awaited are kept, so that a join can wait until its room's subscription is in
 * effect (see subscriptionsSettled): on a Redis Cluster each channel lives on its own shard, and
 * only the shard's reply says it is subscribed.
 */
function observeSubscriptions(sub: RedisClient, logger: Logger): Set<Promise<unknown>> {
  const pending = new Set<Promise<unknown>>();
  for (const name of SUBSCRIPTION_COMMANDS) {
    const send = (sub[name] as (...args: unknown[]) => Promise<unknown>).bind(sub);
    Object.defineProperty(sub, name, {
      configurable: true,
      writable: true,
      value: (...args: unknown[]) => {
        const reply = send(...args);
        const settled = reply.then(
          () => undefined,
          (error: Error) => logger.warn({ event: "redis_subscription_failed", command: name, err: error.message }, "a subscription command failed"),
        );
        pending.add(settled);
        void settled.finally(() => pending.delete(settled));
        return reply;
      },
    });
  }
  return pending;
}

async function settleWithin(replies: Iterable<Promise<unknown>>, timeoutMs: number): Promise<void> {
  const waiting = [...replies];
  if (waiting.length === 0) return;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, timeoutMs);
  });
  try {
    await Promise.race([Promise.all(waiting), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

const retryStrategy = (attempt: number) => Math.min(100 * attempt, 2000);

/** ioredis options of a node of the cluster, its TLS and credentials included. */
function endpointOptions(endpoint: RedisEndpoint): RedisOptions {
  return {
    // Each connection checks the certificate against the host it connects to (Node's default).
    ...(endpoint.tls ? { tls: {} } : {}),
    ...(endpoint.username ? { username: endpoint.username } : {}),
    ...(endpoint.password ? { password: endpoint.password } : {}),
  };
}

/**
 * The three clients on a Redis Cluster. Commands go to the primary that owns their slot
 * (`scaleReads: "master"`: a replica may lag, and Sala reads what it just wrote). A MOVED or ASK
 * is followed (at most 16 times), a TRYAGAIN or CLUSTERDOWN retried for a moment; past that the
 * command fails, and the client is told UNAVAILABLE.
 */
function clusterClients(seeds: RedisEndpoint[]): Record<"command" | "pub" | "sub", Cluster> {
  const startNodes = seeds.map(({ host, port }) => ({ host, port }));
  const redisOptions = endpointOptions(seeds[0]!);
  const common: ClusterOptions = {
    scaleReads: "master",
    clusterRetryStrategy: retryStrategy,
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 200,
    retryDelayOnTryAgain: 100,
    // A topology change (a failover, a resharding) is noticed by MOVED replies and failed
    // connections at once; this also notices a new replica or primary while all is quiet.
    slotsRefreshInterval: 5000,
  };
  return {
    command: new Cluster(startNodes, {
      ...common,
      enableOfflineQueue: false,
      redisOptions: { ...redisOptions, maxRetriesPerRequest: 1, commandTimeout: 2000, connectionName: "sala-command" },
    }),
    pub: new Cluster(startNodes, { ...common, redisOptions: { ...redisOptions, connectionName: "sala-pub" } }),
    sub: new Cluster(startNodes, { ...common, shardedSubscribers: true, redisOptions: { ...redisOptions, maxRetriesPerRequest: null, connectionName: "sala-sub" } }),
  };
}

export async function connectRedis(settings: Pick<RedisSettings, "url" | "clusterNodes">, logger: Logger, onError: () => void = () => {}, timeoutMs = 10_000): Promise<RedisConnections> {
  if (!settings.clusterNodes && !settings.url) throw new Error("connectRedis: neither a Redis URL nor cluster nodes");
  const clients = settings.clusterNodes ? clusterClients(settings.clusterNodes) : serverClients(settings.url!);
  const pendingSubscriptions = observeSubscriptions(clients.sub, logger);
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
      Object.values(clients).map((client: RedisClient) =>
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
  return {
    ...clients,
    cluster: Boolean(settings.clusterNodes),
    // While the subscriber is down there is nothing to wait for: it resubscribes when it is back.
    subscriptionsSettled: (ms) => (clients.sub.status === "ready" ? settleWithin(pendingSubscriptions, ms) : Promise.resolve()),
    close,
  };
}

/**
 * One client for a command-line tool (the admin CLI): fails fast rather than waiting for a Redis
 * that is not there, and is connected when this resolves.
 */
export async function connectTool(settings: Pick<RedisSettings, "url" | "clusterNodes">): Promise<RedisClient> {
  const client: RedisClient = settings.clusterNodes
    ? new Cluster(
        settings.clusterNodes.map(({ host, port }) => ({ host, port })),
        {
          lazyConnect: true,
          scaleReads: "master",
          clusterRetryStrategy: () => null,
          redisOptions: { ...endpointOptions(settings.clusterNodes[0]!), maxRetriesPerRequest: 1, connectTimeout: 5000 },
        },
      )
    : new Redis(settings.url!, { maxRetriesPerRequest: 1, connectTimeout: 5000, retryStrategy: () => null, lazyConnect: true });
  client.on("error", () => undefined); // reported by the command that fails
  try {
    await client.connect();
  } catch (error) {
    client.disconnect();
    throw error;
  }
  return client;
}

/** Where a tool connects, for its messages: the URL without credentials, or the cluster's seeds. */
export function describeTarget(settings: Pick<RedisSettings, "url" | "clusterNodes">): string {
  if (settings.clusterNodes) return `the Redis Cluster at ${settings.clusterNodes.map(({ host, port }) => `${host}:${port}`).join(",")}`;
  return `Redis at ${settings.url!.replace(/\/\/[^@/]*@/, "//***@")}`;
}

/** The three clients on one Redis server. */
function serverClients(url: string): Record<"command" | "pub" | "sub", Redis> {
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
  return { command, pub, sub };
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
