import { ErrorCode } from "@sala/protocol";
import type { PasswordHasher } from "../auth/passwords.js";
import type { AttemptThrottle } from "../auth/throttle.js";
import { AppError } from "../errors.js";
import type { Logger } from "../logger.js";
import { nameKey, type UserStore } from "../stores/types.js";
import { checkAccountPassword, checkUsername } from "./names.js";

export interface AccountDeps {
  users: UserStore;
  hasher: PasswordHasher;
  /** Failed logins per client IP. */
  loginsByIp: AttemptThrottle;
  /** Failed logins per account, whatever the IP. */
  loginsByUser: AttemptThrottle;
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

export class AccountService {
  constructor(private readonly deps: AccountDeps) {}

  /** Creates an account; returns the stored username. */
  async register(rawUsername: string, password: string, ip: string): Promise<string> {
    const username = checkUsername(rawUsername);
    checkAccountPassword(password);
    const wait = await this.deps.registrationsByIp.take(ip);
    if (wait > 0) throw tooMany(wait, "registrations from your address");
    const passwordHash = await this.deps.hasher.hash(password);
    const created = await this.deps.users.create({ username, passwordHash, createdAt: Date.now() });
    if (!created) throw new AppError(ErrorCode.USERNAME_TAKEN, "That username is taken");
    this.deps.logger.info({ event: "user_registered", user: username }, "user registered");
    return username;
  }

  /**
   * Checks credentials; returns the stored username. Unknown users and wrong passwords get the
   * same error after the same work. Each attempt is counted per IP and per account before the
   * password is checked, and given back when it succeeds, so only failures accumulate; over
   * either limit the answer is RATE_LIMITED without checking the password at all.
   */
  async login(rawUsername: string, password: string, ip: string): Promise<string> {
    const userKey = nameKey(rawUsername.trim());
    const { loginsByIp, loginsByUser, users, hasher, logger } = this.deps;
    const [ipWait, userWait] = await Promise.all([loginsByIp.take(ip), loginsByUser.take(userKey)]);
    if (ipWait > 0 || userWait > 0) {
      this.deps.onLogin?.("throttled");
      logger.info({ event: "login_throttled", ip }, "login refused: too many failures");
      throw tooMany(Math.max(ipWait, userWait), "failed logins");
    }
    const user = await users.get(userKey);
    const result = user ? await hasher.verify(user.passwordHash, password) : await hasher.verifyNothing(password);
    if (!user || !result.ok) {
      this.deps.onLogin?.("failure");
      logger.info({ event: "login_failed", ip }, "login failed");
      throw INVALID_CREDENTIALS();
    }
    await Promise.all([loginsByIp.refund(ip), loginsByUser.reset(userKey)]);
    this.deps.onLogin?.("success");
    if (result.needsRehash) {
      await users.setPasswordHash(user.username, await hasher.hash(password));
      logger.info({ event: "password_rehashed", user: user.username }, "password hash upgraded");
    }
    return user.username;
  }
}
