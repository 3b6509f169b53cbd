import { ErrorCode } from "@sala/protocol";
import type { PasswordHasher } from "../auth/passwords.js";
import type { Attempt, AttemptThrottle, Cooldown } from "../auth/throttle.js";
import { AppError } from "../errors.js";
import type { Logger } from "../logger.js";
import { nameKey, type UserStore } from "../stores/types.js";
import { checkUsername, isUsername } from "./names.js";
import { checkAccountPassword } from "./password-policy.js";

/**
 * Failed logins, counted the way OWASP's brute-force guidance and rate-limiter-flexible's "login
 * endpoint protection" count them, so that an attacker can neither guess on nor lock out someone
 * else's account:
 * - per (account, client address): the tight limit (LOGIN_MAX_FAILS_PER_USER_IP, 10);
 * - per client address, whatever the account (LOGIN_MAX_FAILS_PER_IP, 100);
 * - per account, whatever the address, with a far higher ceiling (LOGIN_MAX_FAILS_PER_USER,
 *   1000) that stops only the addresses that have failed on that account more than OWNER_TYPOS
 *   times.
 * Past an address's first FREE_FAILURES failures on an account in the window, it must also wait
 * before its next try there: 1 s, doubling with each further failure, up to LOGIN_DELAY_MAX_SEC.
 * An address with few failures on the account is never delayed or stopped by the account's
 * counts: its owner, at their own address, gets in during an attack, a typo or two included.
 * Addresses are keys of http/client-address.ts addressKey: an IPv6 address counts as its /64.
 */
export interface LoginThrottles {
  byUserAndIp: AttemptThrottle;
  byIp: AttemptThrottle;
  byUser: AttemptThrottle;
  /** The progressive delay of an (account, address) pair after a failure. */
  delays: Cooldown;
  /** Cap of that delay (0: no delay). */
  delayMaxSec: number;
}

/** Failures of an address on an account in the window before it starts to wait. */
export const FREE_FAILURES = 3;
/** Failures of an address on an account that the account's ceiling overlooks (an owner's typos). */
export const OWNER_TYPOS = 2;

export interface AccountDeps {
  users: UserStore;
  hasher: PasswordHasher;
  logins: LoginThrottles;
  /** Registrations per client IP. */
  registrationsByIp: AttemptThrottle;
  logger: Logger;
  /** Counts login outcomes (metrics). */
  onLogin?: (result: "success" | "failure" | "throttled") => void;
}

const INVALID_CREDENTIALS = () => new AppError(ErrorCode.INVALID_CREDENTIALS, "Unknown user or wrong password");

function tooMany(retryAfterMs: number, what: string): AppError {
  return new AppError(ErrorCode.RATE_LIMITED, `Too many ${what}; try again in ${Math.ceil(retryAfterMs / 1000)} s`, retryAfterMs);
}

/** The wait (ms) after a failure that leaves an (account, address) pair at `failures` in the window. */
export function loginDelayMs(failures: number, maxSec: number): number {
  if (failures <= FREE_FAILURES || maxSec <= 0) return 0;
  return Math.min(maxSec, 2 ** Math.min(failures - FREE_FAILURES - 1, 30)) * 1000;
}

/** A login that succeeded: who, and the account as its password was verified (for the re-check after the session is saved). */
export interface LoginResult {
  username: string;
  mustChangePassword: boolean;
  /** The stored hash the password matched (or its upgrade by this login). */
  passwordHash: string;
  sessionsNotBefore: number;
}

export class AccountService {
  constructor(private readonly deps: AccountDeps) {}

  /** Creates an account; returns the stored username. */
  async register(rawUsername: string, password: string, ip: string): Promise<string> {
    const username = checkUsername(rawUsername);
    await checkAccountPassword(password, username);
    const wait = await this.deps.registrationsByIp.take(ip);
    if (wait > 0) throw tooMany(wait, "registrations from your address");
    const passwordHash = await this.deps.hasher.hash(password);
    // Throws NAME_CONFUSABLE when the name looks like an existing one.
    const created = await this.deps.users.create({ username, passwordHash, createdAt: Date.now() });
    if (!created) throw new AppError(ErrorCode.USERNAME_TAKEN, "That username is taken");
    this.deps.logger.info({ event: "user_registered", user: username }, "user registered");
    return username;
  }

  /**
   * Checks credentials; returns the stored username. Unknown users and wrong passwords get the
   * same error after the same work. Each attempt is counted (see LoginThrottles) before the
   * password is checked, and given back when it succeeds, so only failures accumulate; over a
   * limit, or within its delay, the answer is RATE_LIMITED without checking the password at all.
   */
  async login(rawUsername: string, password: string, ip: string): Promise<LoginResult> {
    const userKey = nameKey(rawUsername.trim());
    const pair = `${userKey} ${ip}`; // a space is in no name key
    const { logins, users, hasher, logger } = this.deps;
    const delayed = await logins.delays.remaining(pair);
    if (delayed > 0) throw this.throttled(delayed, ip, "delay");
    const [byIp, byPair, byUser] = await Promise.all([logins.byIp.attempt(ip), logins.byUserAndIp.attempt(pair), logins.byUser.attempt(userKey)]);
    const refundAll = () => Promise.all([logins.byIp.refund(ip), logins.byUserAndIp.refund(pair), logins.byUser.refund(userKey)]);
    const wait = this.waitFor(byIp, byPair, byUser);
    if (wait > 0) {
      // Only password checks that failed count against the account.
      await logins.byUser.refund(userKey);
      throw this.throttled(wait, ip, byIp.wait > 0 ? "address" : byPair.wait > 0 ? "account_address" : "account");
    }
    let result;
    let user;
    try {
      // A name no one can register names no account (and no store key).
      user = isUsername(userKey) ? await users.account(userKey) : null;
      result = user ? await hasher.verify(user.passwordHash, password) : await hasher.verifyNothing(password);
    } catch (error) {
      await refundAll().catch(() => undefined); // nothing was checked (BUSY, Redis down)
      throw error;
    }
    if (!user || !result.ok) {
      // Per pair: an attack from elsewhere never slows the owner's next try after a typo.
      const delay = loginDelayMs(byPair.count, logins.delayMaxSec);
      if (delay > 0) await logins.delays.hold(pair, delay);
      this.deps.onLogin?.("failure");
      logger.info({ event: "login_failed", ip }, "login failed");
      throw INVALID_CREDENTIALS();
    }
    // The pair starts afresh; the address and the account get this attempt back (other
    // addresses' failures on the account stay counted).
    await Promise.all([logins.byIp.refund(ip), logins.byUserAndIp.reset(pair), logins.byUser.refund(userKey), logins.delays.clear(pair)]);
    // Told only to someone who knows the password: a lock reveals nothing to a guesser.
    if (user.lockedAt) {
      logger.info({ event: "login_locked", user: user.username, ip }, "login refused: the account is locked");
      throw new AppError(ErrorCode.ACCOUNT_LOCKED, "This account is locked");
    }
    this.deps.onLogin?.("success");
    let passwordHash = user.passwordHash;
    if (result.needsRehash) {
      // The password was right: a busy hasher or store only postpones the upgrade to a later login.
      // Only over the hash just verified: a reset or a change meanwhile is never undone.
      try {
        const upgraded = await hasher.hash(password);
        if (await users.setPasswordHash(user.username, upgraded, undefined, { expectedHash: user.passwordHash })) passwordHash = upgraded;
        logger.info({ event: "password_rehashed", user: user.username }, "password hash upgraded");
      } catch (error) {
        logger.warn({ event: "password_rehash_skipped", user: user.username, err: (error as Error).message }, "password hash upgrade postponed");
      }
    }
    return { username: user.username, mustChangePassword: user.mustChangePassword, passwordHash, sessionsNotBefore: user.sessionsNotBefore };
  }

  /**
   * The account's ceiling stops only an address that has failed on the account more than
   * OWNER_TYPOS times before (this attempt is counted in `byPair`): an owner who mistypes during an
   * attack on their account still gets in at the next try.
   */
  private waitFor(byIp: Attempt, byPair: Attempt, byUser: Attempt): number {
    const failedHereBefore = byPair.count - 1 > OWNER_TYPOS;
    return Math.max(byIp.wait, byPair.wait, failedHereBefore ? byUser.wait : 0);
  }

  private throttled(wait: number, ip: string, limit: string): AppError {
    this.deps.onLogin?.("throttled");
    this.deps.logger.info({ event: "login_throttled", ip, limit }, "login refused: too many failures");
    return tooMany(wait, "failed logins");
  }
}
