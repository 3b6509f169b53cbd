/**
 * The process: read configuration, build the node, listen, and stop cleanly on SIGTERM/SIGINT.
 */
import { join } from "node:path";
import { buildNode } from "./app.js";
import { ConfigError, loadConfig } from "./config.js";
import { createLogger } from "./logger.js";
import { SchemaVersionError } from "./stores/schema.js";
import { DataDirInUseError } from "./stores/sqlite/data-lock.js";
import { LegacyLayoutError } from "./stores/redis/startup.js";

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`sala: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const logger = createLogger(config.nodeId, config.logLevel);
  // The first line says where the data lives (and whether it outlives the process).
  const { redis, embeddedStore } = config;
  if (redis) logger.info({ event: "store", store: redis.clusterNodes ? "redis-cluster" : "redis" }, `store: ${redis.clusterNodes ? "a Redis Cluster" : "Redis"} (shared by every node)`);
  else if (embeddedStore?.kind === "sqlite") logger.info({ event: "store", store: "sqlite", path: embeddedStore.file }, `store: SQLite at ${embeddedStore.file}`);
  else logger.info({ event: "store", store: "memory" }, "store: this process's memory (STORE=memory): nothing is kept after it exits");
  // A promise whose failure nobody looked at is a bug to fix, but no reason to drop every user of
  // this node (Node ends the process on one by default): it is logged, loudly, and the node goes
  // on. The Redis path that produced them (the adapter's subscriptions) is fixed at its cause in
  // redis.ts; the fault tests check that none is logged. A thrown exception still ends the
  // process: the state it left behind is unknown.
  // (Name, message and stack only: a Redis reply error also carries the command's arguments.)
  process.on("unhandledRejection", (reason: unknown) => {
    const err = reason instanceof Error ? { name: reason.name, message: reason.message, stack: reason.stack } : String(reason);
    logger.error({ event: "unhandled_rejection", err }, "a promise failed and nobody handled it");
  });
  if (config.sessionSecretGenerated && embeddedStore?.kind === "sqlite") {
    logger.info({ event: "stored_session_secret", path: join(embeddedStore.dataDir, "session-secret") }, "SESSION_SECRET not set: using the one kept in DATA_DIR");
  } else if (config.sessionSecretGenerated) {
    logger.warn({ event: "ephemeral_session_secret" }, "SESSION_SECRET not set: sessions will not survive a restart");
  }
  let node;
  try {
    node = await buildNode(config, logger);
  } catch (error) {
    // Data this node must not touch (another layout or schema version): the message says what the
    // operator runs; a stack trace would only bury it.
    if (error instanceof LegacyLayoutError || error instanceof SchemaVersionError || error instanceof DataDirInUseError) {
      const reason = error instanceof SchemaVersionError ? "schema_version" : error instanceof DataDirInUseError ? "data_dir_in_use" : "legacy_layout";
      logger.fatal({ event: "store_refused", reason, err: error.message }, "refusing to start on this store");
      process.stderr.write(`sala: refusing to start: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  await node.listen();

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ event: "shutdown", signal }, "shutting down");
    const force = setTimeout(() => {
      logger.error({ event: "shutdown_timeout" }, "shutdown took too long; exiting");
      process.exit(1);
    }, 10_000);
    force.unref();
    node.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ event: "shutdown_failed", err: error }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

main().catch((error: unknown) => {
  process.stderr.write(`sala: failed to start: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
