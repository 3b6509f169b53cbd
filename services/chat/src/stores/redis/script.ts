import type { RedisClient } from "../../redis.js";

export type Script = (keys: string[], args: Array<string | number>) => Promise<unknown>;

/**
 * Registers a Lua script with ioredis (EVALSHA, falling back to EVAL after a Redis restart) and
 * returns it as a typed function. Scripts make multi-key changes atomic without a round trip each.
 */
export function defineScript(redis: RedisClient, name: string, numberOfKeys: number, lua: string): Script {
  redis.defineCommand(name, { numberOfKeys, lua });
  const command = (redis as unknown as Record<string, (...args: Array<string | number>) => Promise<unknown>>)[name];
  if (!command) throw new Error(`ioredis did not define script ${name}`);
  return (keys, args) => command.call(redis, ...keys, ...args);
}
