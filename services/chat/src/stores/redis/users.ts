import type { RedisClient } from "../../redis.js";
import { confusableKey, NameConfusableError } from "../../domain/confusables.js";
import { nameKey, type UserRecord, type UserStore } from "../types.js";
import type { RedisKeys } from "./keys.js";
import { defineScript, type Script } from "./script.js";

/**
 * A new account is single-slot steps: its confusable key is claimed in the global index of user
 * names, then its hash is written (the first registrant of a name wins), then the claim is checked
 * again. A claim left by a registration that never wrote its hash (a node died in between) names a
 * user that does not exist: the next claimant takes it over (TAKE_OVER), so it blocks nobody for
 * good. A registration still between its steps looks the same: should its claim be taken over so,
 * the check after the write finds the key held by the other name, and the account just written is
 * deleted again (DROP_USER) — of two look-alike registrations at once, one account remains.
 */

// KEYS: userSkeletons. ARGV: confusable key, name key. → 1 held by this name (now or before), or
// the name key of the holder.
const CLAIM_SKELETON = `
local holder = redis.call('HGET', KEYS[1], ARGV[1])
if holder and holder ~= ARGV[2] then return holder end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1`;

// KEYS: userSkeletons. ARGV: confusable key, the holder found without an account, name key.
const TAKE_OVER = `
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1`;

// KEYS: user. ARGV: passwordHash. Deletes the account only if it is the one this registration wrote.
const DROP_USER = `
if redis.call('HGET', KEYS[1], 'passwordHash') == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1`;

// KEYS: user. ARGV: username, passwordHash, createdAt. → 1 created, 0 name taken.
const CREATE_USER = `
if redis.call('HEXISTS', KEYS[1], 'username') == 1 then return 0 end
redis.call('HSET', KEYS[1], 'username', ARGV[1], 'passwordHash', ARGV[2], 'createdAt', ARGV[3])
return 1`;

/** KEYS: user. ARGV: '1' grant, '' revoke. → 0 when there is no such user. */
const SET_ADMIN = `
if redis.call('HEXISTS', KEYS[1], 'passwordHash') == 0 then return 0 end
if ARGV[1] == '1' then redis.call('HSET', KEYS[1], 'admin', '1') else redis.call('HDEL', KEYS[1], 'admin') end
return 1`;

export class RedisUserStore implements UserStore {
  private readonly claimSkeleton: Script;
  private readonly takeOver: Script;
  private readonly createUser: Script;
  private readonly dropUser: Script;
  private readonly setAdminScript: Script;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
  ) {
    this.claimSkeleton = defineScript(redis, "salaUserClaimSkeleton", 1, CLAIM_SKELETON);
    this.takeOver = defineScript(redis, "salaUserTakeOverSkeleton", 1, TAKE_OVER);
    this.createUser = defineScript(redis, "salaCreateUser", 1, CREATE_USER);
    this.dropUser = defineScript(redis, "salaDropNewUser", 1, DROP_USER);
    this.setAdminScript = defineScript(redis, "salaSetAdmin", 1, SET_ADMIN);
  }

  async create(user: UserRecord): Promise<boolean> {
    const key = nameKey(user.username);
    const skeleton = confusableKey(user.username);
    let holder = await this.claimSkeleton([this.keys.userSkeletons], [skeleton, key]);
    if (typeof holder === "string") {
      const existing = await this.redis.hget(this.keys.user(holder), "username");
      if (existing) throw new NameConfusableError("user", existing);
      holder = await this.takeOver([this.keys.userSkeletons], [skeleton, holder, key]);
      // Taken over by another registrant at the same moment: they hold it now.
      if (Number(holder) !== 1) throw new NameConfusableError("user", user.username);
    }
    if ((await this.createUser([this.keys.user(key)], [user.username, user.passwordHash, user.createdAt])) !== 1) return false;
    const holderNow = await this.redis.hget(this.keys.userSkeletons, skeleton);
    if (holderNow !== null && holderNow !== key) {
      await this.dropUser([this.keys.user(key)], [user.passwordHash]);
      throw new NameConfusableError("user", (await this.redis.hget(this.keys.user(holderNow), "username")) ?? holderNow);
    }
    return true;
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
