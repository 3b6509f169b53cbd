import type { Redis } from "ioredis";
import { nameKey, type UserRecord, type UserStore } from "../types.js";
import type { RedisKeys } from "./keys.js";
import { defineScript, type Script } from "./script.js";

/** Claims the name and writes the record in one step, so no half-made account can exist. */
const CREATE_USER = `
if redis.call('HSETNX', KEYS[1], 'username', ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'passwordHash', ARGV[2], 'createdAt', ARGV[3])
return 1`;

export class RedisUserStore implements UserStore {
  private readonly createUser: Script;

  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {
    this.createUser = defineScript(redis, "salaCreateUser", 1, CREATE_USER);
  }

  async create(user: UserRecord): Promise<boolean> {
    const created = await this.createUser(
      [this.keys.user(nameKey(user.username))],
      [user.username, user.passwordHash, user.createdAt],
    );
    return created === 1;
  }

  async get(username: string): Promise<UserRecord | null> {
    const [name, passwordHash, createdAt] = await this.redis.hmget(
      this.keys.user(nameKey(username)),
      "username",
      "passwordHash",
      "createdAt",
    );
    if (!name || !passwordHash) return null;
    return { username: name, passwordHash, createdAt: Number(createdAt) };
  }

  async setPasswordHash(username: string, passwordHash: string): Promise<void> {
    await this.redis.hset(this.keys.user(nameKey(username)), "passwordHash", passwordHash);
  }
}
