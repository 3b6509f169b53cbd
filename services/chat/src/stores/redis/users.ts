import type { RedisClient } from "../../redis.js";
import { confusableKey, NameConfusableError } from "../../domain/confusables.js";
import { nameKey, type LobbyPageQuery, type UserAccount, type UserRecord, type UserStore } from "../types.js";
import { lexBounds } from "./lobby.js";
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

/** Lua: moves the user's notBefore forward to ARGV[i] (never back). */
const RAISE_NOT_BEFORE = `
local function raiseNotBefore(at)
  if tonumber(redis.call('HGET', KEYS[1], 'notBefore') or '0') < tonumber(at) then redis.call('HSET', KEYS[1], 'notBefore', at) end
end`;

/**
 * KEYS: user. ARGV: passwordHash, '1' must change it / '0' need not / '' as it was, the hash that
 * must still be stored ('' any), sessions not before ('' unchanged). → 0: no such user, or the hash changed.
 */
const SET_PASSWORD = `${RAISE_NOT_BEFORE}
local current = redis.call('HGET', KEYS[1], 'passwordHash')
if not current then return 0 end
if ARGV[3] ~= '' and current ~= ARGV[3] then return 0 end
redis.call('HSET', KEYS[1], 'passwordHash', ARGV[1])
if ARGV[2] == '1' then redis.call('HSET', KEYS[1], 'mustChange', '1') elseif ARGV[2] == '0' then redis.call('HDEL', KEYS[1], 'mustChange') end
if ARGV[4] ~= '' then raiseNotBefore(ARGV[4]) end
return 1`;

/** KEYS: user. ARGV: '1' lock / '' unlock, now. A lock keeps its first time and ends the sessions. → 0: no such user. */
const SET_LOCKED = `${RAISE_NOT_BEFORE}
if redis.call('HEXISTS', KEYS[1], 'passwordHash') == 0 then return 0 end
if ARGV[1] == '' then
  redis.call('HDEL', KEYS[1], 'lockedAt')
else
  redis.call('HSETNX', KEYS[1], 'lockedAt', ARGV[2])
  raiseNotBefore(ARGV[2])
end
return 1`;

/** KEYS: user. ARGV: before. → 0: no such user. */
const END_SESSIONS = `${RAISE_NOT_BEFORE}
if redis.call('HEXISTS', KEYS[1], 'passwordHash') == 0 then return 0 end
raiseNotBefore(ARGV[1])
return 1`;

/** KEYS: user. ARGV: now, '1' for a login. Never creates a record for an unknown user. */
const RECORD_SEEN = `
if redis.call('HEXISTS', KEYS[1], 'passwordHash') == 0 then return 0 end
redis.call('HSET', KEYS[1], 'lastSeenAt', ARGV[1])
if ARGV[2] == '1' then redis.call('HSET', KEYS[1], 'lastLoginAt', ARGV[1]) end
return 1`;

// KEYS: userSkeletons, userDirectory. ARGV: confusable key, name key. Frees what the account held.
const RELEASE_NAME = `
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then redis.call('HDEL', KEYS[1], ARGV[1]) end
redis.call('ZREM', KEYS[2], ARGV[2])
return 1`;

/** KEYS: user. ARGV: '1' grant, '' revoke. → 0 when there is no such user. */
const SET_ADMIN = `
if redis.call('HEXISTS', KEYS[1], 'passwordHash') == 0 then return 0 end
if ARGV[1] == '1' then redis.call('HSET', KEYS[1], 'admin', '1') else redis.call('HDEL', KEYS[1], 'admin') end
return 1`;

/** The user hash's fields an account is read from, in toAccount's order. */
const ACCOUNT_FIELDS = ["username", "passwordHash", "createdAt", "admin", "lockedAt", "mustChange", "lastLoginAt", "lastSeenAt", "notBefore"] as const;

function toAccount([username, passwordHash, createdAt, admin, lockedAt, mustChange, lastLoginAt, lastSeenAt, notBefore]: Array<string | null>): UserAccount | null {
  if (!username || !passwordHash) return null;
  return {
    username,
    passwordHash,
    createdAt: Number(createdAt ?? 0),
    admin: admin === "1",
    lockedAt: Number(lockedAt ?? 0),
    mustChangePassword: mustChange === "1",
    lastLoginAt: Number(lastLoginAt ?? 0),
    lastSeenAt: Number(lastSeenAt ?? 0),
    sessionsNotBefore: Number(notBefore ?? 0),
  };
}

export class RedisUserStore implements UserStore {
  private readonly claimSkeleton: Script;
  private readonly takeOver: Script;
  private readonly createUser: Script;
  private readonly dropUser: Script;
  private readonly setAdminScript: Script;
  private readonly setPasswordScript: Script;
  private readonly setLockedScript: Script;
  private readonly endSessionsScript: Script;
  private readonly recordSeenScript: Script;
  private readonly releaseNameScript: Script;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
  ) {
    this.claimSkeleton = defineScript(redis, "salaUserClaimSkeleton", 1, CLAIM_SKELETON);
    this.takeOver = defineScript(redis, "salaUserTakeOverSkeleton", 1, TAKE_OVER);
    this.createUser = defineScript(redis, "salaCreateUser", 1, CREATE_USER);
    this.dropUser = defineScript(redis, "salaDropNewUser", 1, DROP_USER);
    this.setAdminScript = defineScript(redis, "salaSetAdmin", 1, SET_ADMIN);
    this.setPasswordScript = defineScript(redis, "salaSetPassword", 1, SET_PASSWORD);
    this.setLockedScript = defineScript(redis, "salaSetLocked", 1, SET_LOCKED);
    this.endSessionsScript = defineScript(redis, "salaEndSessionsBefore", 1, END_SESSIONS);
    this.recordSeenScript = defineScript(redis, "salaUserSeen", 1, RECORD_SEEN);
    this.releaseNameScript = defineScript(redis, "salaUserReleaseName", 2, RELEASE_NAME);
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
    // Listed once the account exists; a registration cut short here is listed by the repair.
    await this.redis.zadd(this.keys.userDirectory, 0, key);
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

  async account(username: string): Promise<UserAccount | null> {
    const fields = await this.redis.hmget(this.keys.user(nameKey(username)), ...ACCOUNT_FIELDS);
    return toAccount(fields);
  }

  async setPasswordHash(username: string, passwordHash: string, mustChange?: boolean, guard: { expectedHash?: string; sessionsNotBefore?: number } = {}): Promise<boolean> {
    const flag = mustChange === undefined ? "" : mustChange ? "1" : "0";
    const args = [passwordHash, flag, guard.expectedHash ?? "", guard.sessionsNotBefore === undefined ? "" : String(guard.sessionsNotBefore)];
    return (await this.setPasswordScript([this.keys.user(nameKey(username))], args)) === 1;
  }

  async endSessionsBefore(username: string, before: number): Promise<boolean> {
    return (await this.endSessionsScript([this.keys.user(nameKey(username))], [before])) === 1;
  }

  async setLocked(username: string, locked: boolean, now: number): Promise<boolean> {
    return (await this.setLockedScript([this.keys.user(nameKey(username))], [locked ? "1" : "", now])) === 1;
  }

  async recordSeen(username: string, now: number, login: boolean): Promise<void> {
    await this.recordSeenScript([this.keys.user(nameKey(username))], [now, login ? "1" : ""]);
  }

  /** The record first (the account is gone for logins at once), then its name, then its sets. */
  async delete(username: string): Promise<boolean> {
    const key = nameKey(username);
    const display = await this.redis.hget(this.keys.user(key), "username");
    if (!display) return false;
    const deleted = await this.redis.del(this.keys.user(key));
    await this.releaseNameScript([this.keys.userSkeletons, this.keys.userDirectory], [confusableKey(display), key]);
    // Each key of the family alone: on a Redis Cluster they may sit on different shards.
    await Promise.all(this.keys.userFamily(key).slice(1).map((familyKey) => this.redis.del(familyKey)));
    return deleted === 1;
  }

  async directory(query: LobbyPageQuery): Promise<{ items: string[]; next: string | null }> {
    const { min, max } = lexBounds(query);
    const found = await this.redis.zrangebylex(this.keys.userDirectory, min, max, "LIMIT", 0, query.limit + 1);
    const more = found.length > query.limit;
    const keys = found.slice(0, query.limit);
    return { items: keys, next: more ? keys.at(-1)! : null };
  }

  async count(): Promise<number> {
    return this.redis.zcard(this.keys.userDirectory);
  }

  async setAdmin(username: string, admin: boolean): Promise<boolean> {
    return (await this.setAdminScript([this.keys.user(nameKey(username))], [admin ? "1" : ""])) === 1;
  }

  async isAdmin(username: string): Promise<boolean> {
    return (await this.redis.hget(this.keys.user(nameKey(username)), "admin")) === "1";
  }
}
