/**
 * `npm run admin -- COMMAND [ARGS]`: the operator's commands (commands.ts), e.g.
 * `npm run admin -- grant-admin ana`. Reads the node's configuration (REDIS_URL, REDIS_PREFIX):
 * with Redis it acts on the cluster's store itself; embedded (no REDIS_URL) it asks the running
 * node through its admin socket (ADMIN_SOCKET, or the default for PORT), but for backup and
 * restore, which work on the node's SQLite file (STORE, DATA_DIR) themselves.
 *
 * Exit status: 0 done, 1 failed (unknown user, store or node unreachable), 2 bad usage or
 * configuration.
 */
import { userInfo } from "node:os";
import { pino } from "pino";
import { ConfigError, loadAdminCliConfig, type AdminCliConfig } from "../config.js";
import { isUnavailable } from "../errors.js";
import { connectTool, describeTarget, type RedisClient } from "../redis.js";
import { RedisStore } from "connect-redis";
import { PasswordHasher } from "../auth/passwords.js";
import { createRedisStores } from "../stores/redis/index.js";
import { RedisKeys } from "../stores/redis/keys.js";
import { repairer } from "../stores/redis/startup.js";
import { AdminError, commandOf, runCommand, usage } from "./commands.js";
import { redisNoticeBoard } from "./notices.js";
import { createAdminService } from "./service.js";
import { sendAdminRequest, type AdminReply } from "./control-socket.js";
import { isStoreTool, STORE_TOOLS } from "./store-tools.js";

/** The OS user running the command, for the audit trail. */
function actor(): string {
  try {
    return userInfo().username;
  } catch {
    return `uid:${process.getuid?.() ?? "?"}`;
  }
}

/** Runs the command against the cluster's Redis (one server or a Redis Cluster) directly. */
async function viaRedis(config: AdminCliConfig, redis: NonNullable<AdminCliConfig["redis"]>, command: string, args: string[]): Promise<AdminReply> {
  const keys = new RedisKeys(redis.prefix);
  const logger = pino({ base: { tool: "sala-admin" } }, pino.destination(2));
  let client: RedisClient | undefined;
  try {
    client = await connectTool(redis);
    const hasher = new PasswordHasher(config.argon2, 1);
    const service = createAdminService({
      stores: createRedisStores(client, keys, { messageIdWindowSec: 600 }),
      // The nodes' session store: connect-redis under the same prefix (http/session.ts).
      sessionStore: new RedisStore({ client, prefix: keys.sessionPrefix }),
      notices: redisNoticeBoard(client, keys),
      hashPassword: (password) => hasher.hash(password),
      nodeTtlMs: config.nodeTtlMs,
      logger,
    });
    const context = { service, actor: actor(), repair: repairer(client, keys) };
    return { ok: true, message: await runCommand(context, command, args) };
  } catch (error) {
    if (error instanceof AdminError) return { ok: false, kind: error.kind, message: error.message };
    const unreachable = client === undefined || isUnavailable(error);
    return { ok: false, kind: "failed", message: unreachable ? `cannot reach ${describeTarget(redis)}: ${(error as Error).message}` : `failed: ${(error as Error).message}` };
  } finally {
    client?.disconnect();
  }
}

/** Asks the running embedded node, through its admin socket. */
async function viaNode(path: string, command: string, args: string[]): Promise<AdminReply> {
  try {
    return await sendAdminRequest(path, { command, args, actor: actor() });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" || code === "ECONNREFUSED" ? "is the node running (npm start) with this PORT or ADMIN_SOCKET?" : (error as Error).message;
    return { ok: false, kind: "failed", message: `no REDIS_URL or REDIS_CLUSTER_NODES, and no embedded node answers on ${path}: ${why}` };
  }
}

/**
 * Runs one of STORE_TOOLS against the configured Redis or, embedded, on the node's SQLite file
 * (the CLI opens it itself: sqlite-backup.ts says why); otherwise says what to do instead.
 */
async function storeTool(config: AdminCliConfig, command: string, args: string[]): Promise<AdminReply> {
  const tool = STORE_TOOLS[command]!;
  const { redis, embeddedStore } = config;
  const onSqlite = tool.sqlite;
  const logger = pino({ base: { tool: "sala-admin" } }, pino.destination(2));
  let work: () => Promise<string>;
  if (redis) work = () => tool.run({ target: redis, args, logger, actor: actor() });
  else if (embeddedStore?.kind === "sqlite" && onSqlite) work = () => onSqlite({ store: embeddedStore, adminSocket: config.adminSocket, args, logger, actor: actor() });
  else return { ok: false, kind: "usage", message: tool.embedded };
  try {
    return { ok: true, message: await work() };
  } catch (error) {
    if (error instanceof AdminError) return { ok: false, kind: error.kind, message: error.message };
    return { ok: false, kind: "failed", message: (error as Error).message };
  }
}

/** Reads a password from stdin (one line, without its line end): never from the command line, where `ps` and shell history see it. */
async function passwordFromStdin(): Promise<string> {
  let text = "";
  for await (const chunk of process.stdin) text += String(chunk);
  return text.replace(/\r?\n$/, "");
}

async function main(argv: string[]): Promise<number> {
  const [first] = argv;
  if (!first || first === "help" || first === "--help" || first === "-h") {
    process.stdout.write(`${usage()}\n`);
    return first ? 0 : 2;
  }
  const command = isStoreTool(first) ? { name: first, args: argv.slice(1) } : commandOf(argv);
  if (!command) {
    process.stderr.write(`sala admin: unknown command: ${argv.slice(0, 2).join(" ")}\n\n${usage()}\n`);
    return 2;
  }
  let config: AdminCliConfig;
  try {
    config = loadAdminCliConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`sala admin: ${error.message}\n`);
    return 2;
  }
  const { name } = command;
  let { args } = command;
  // A password never on the command line, where `ps` and the shell's history keep it.
  if (args.includes("--password")) {
    process.stderr.write("sala admin: give the password on stdin with --password-stdin, never on the command line\n");
    return 2;
  }
  if (args.includes("--password-stdin")) args = [...args.filter((arg) => arg !== "--password-stdin"), "--password", await passwordFromStdin()];
  const reply = isStoreTool(name)
    ? await storeTool(config, name, args)
    : config.redis
      ? await viaRedis(config, config.redis, name, args)
      : await viaNode(config.adminSocket, name, args);
  if (reply.ok) {
    process.stdout.write(`${reply.message}\n`);
    return 0;
  }
  process.stderr.write(`sala admin: ${reply.message}\n`);
  return reply.kind === "usage" ? 2 : 1;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`sala admin: ${(error as Error).stack ?? String(error)}\n`);
    process.exitCode = 1;
  },
);
