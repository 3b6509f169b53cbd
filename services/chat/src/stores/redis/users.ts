import type { Redis } from "ioredis";
import { confusableKey, NameConfusableError } from "../../domain/confusables.js";
import { nameKey, type UserRecord, type UserStore } from "../types.js";
import type { RedisKeys } from "./keys.js";
import { defineScript, type Script } from "./script.js";

/**
 * Claims the name and its confusable key and writes the record in one step, so no half-made
 * account, and no two look-alike accounts, can exist.
 * KEYS: user, userSkeletons. ARGV: username, passwordHash, createdAt, name key, confusable key.
 * → 1 created, 0 name taken, or the name key of the look-alike user.
 */
const CREATE_USER = `
if redis.call('HEXISTS', KEYS[1], 'username') == 1 then return 0 end
local holder = redis.call('HGET', KEYS[2], ARGV[5])
if holder and holder ~= ARGV[4] then return holder end
redis.call('HSET', KEYS[1], 'username', ARGV[1], 'passwordHash', ARGV[2], 'createdAt', ARGV[3])
redis.call('HSET', KEYS[2], ARGV[5], ARGV[4])
return 1`;

/** KEYS: user. ARGV: '1' grant, '' revoke. → 0 when there is no such user. */
const SET_ADMIN = `
if redis.call('HEXISTS', KEYS[1], 'passwordHash') == 0 then return 0 end
if ARGV[1] == '1' then redis.call('HSET', KEYS[1], 'admin', '1') else redis.call('HDEL', KEYS[1], 'admin') end
return 1`;

export class RedisUserStore implements UserStore {
  private readonly createUser: Script;
  private readonly setAdminScript: Script;

  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {
    this.createUser = defineScript(redis, "salaCreateUser", 2, CREATE_USER);
    this.setAdminScript = defineScript(redis, "salaSetAdmin", 1, SET_ADMIN);
  }

  async create(user: UserRecord): Promise<boolean> {
    const key = nameKey(user.username);
    const result = await this.createUser(
      [this.keys.user(key), this.keys.userSkeletons],
      [user.username, user.passwordHash, user.createdAt, key, confusableKey(user.username)],
    );
    if (typeof result === "string") {
      const existing = await this.redis.hget(this.keys.user(result), "username");
      throw new NameConfusableError("user", existing ?? result);
    }
    return result === 1;
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

  async setAdmin(username: string, admin: boolean): Promise<boolean> {
    return (await this.setAdminScript([this.keys.user(nameKey(username))], [admin ? "1" : ""])) === 1;
  }

  async isAdmin(username: string): Promise<boolean> {
    return (await this.redis.hget(this.keys.user(nameKey(username)), "admin")) === "1";
  }
}
