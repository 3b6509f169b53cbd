/**
 * The process: read configuration, build the node, listen, and stop cleanly on SIGTERM/SIGINT.
 */
import { buildNode } from "./app.js";
import { ConfigError, loadConfig } from "./config.js";
import { createLogger } from "./logger.js";

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
  if (config.sessionSecretGenerated) {
    logger.warn({ event: "ephemeral_session_secret" }, "SESSION_SECRET not set: sessions will not survive a restart");
  }
  const node = await buildNode(config, logger);
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
