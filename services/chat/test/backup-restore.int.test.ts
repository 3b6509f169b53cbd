/**
 * Issue 20, item 4: `npm run admin -- backup FILE` and `restore FILE` round-trip a data set made by
 * real users on the run's redis-server into a fresh redis-server of this file's own, where new
 * nodes serve it (support/backup-roundtrip.ts has the whole story). Needs the built CLI
 * (`npx tsc -b services/chat`).
 */
import { Redis } from "ioredis";
import { inject } from "vitest";
import { describeBackupRoundTrip } from "./support/backup-roundtrip.js";
import { startRedisServer } from "./support/redis-server.js";

describeBackupRoundTrip({
  label: "one Redis into a fresh redis-server",
  sourceRedisUrl: inject("redisUrl"),
  sourceStore: { REDIS_URL: inject("redisUrl") },
  sourceClient: () => new Redis(inject("redisUrl")),
  async makeTarget(sourcePrefix) {
    const server = await startRedisServer();
    const client = new Redis(server.url);
    return {
      store: { REDIS_URL: server.url },
      nodeRedisUrl: server.url,
      // The usual disaster recovery: the same prefix on a new Redis.
      prefix: sourcePrefix,
      client,
      async stop() {
        client.disconnect();
        await server.stop();
      },
    };
  },
});
