import type { RedisSettings } from "../config.js";
import { connectTool, describeTarget, type RedisClient } from "../redis.js";
import { AdminError } from "./admin-error.js";

/** The admin tools' Redis client; an unreachable store is the operator's message, not a stack trace. */
export async function connectAdminTool(settings: Pick<RedisSettings, "url" | "clusterNodes">): Promise<RedisClient> {
  try {
    return await connectTool(settings);
  } catch (error) {
    throw new AdminError(`cannot reach ${describeTarget(settings)}: ${(error as Error).message}`);
  }
}
