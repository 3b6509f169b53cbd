import type { FastifyInstance } from "fastify";
import { ErrorCode } from "@sala/protocol";
import { AccountDeleteBody, PasswordChangeBody } from "@sala/protocol/schemas";
import type { AdminService } from "../admin/service.js";
import type { AccountService } from "../domain/accounts.js";
import { checkAccountPassword } from "../domain/password-policy.js";
import { AppError } from "../errors.js";
import type { UserStore } from "../stores/types.js";
import { addressKey } from "./client-address.js";
import { clearSessionCookie, type AuthRouteDeps } from "./auth-routes.js";
import { sessionAccess } from "./session-access.js";
import { promisify } from "./session.js";

export interface AccountRouteDeps extends Pick<AuthRouteDeps, "sessionAbsoluteMs" | "cookieSecure"> {
  accounts: AccountService;
  users: UserStore;
  admin: AdminService;
  hashPassword(password: string, caller: string): Promise<string>;
}

const notLoggedIn = () => new AppError(ErrorCode.UNAUTHORIZED, "Not logged in");

/**
 * A user's own account: POST /account/password (also the way out of an operator's reset) and POST
 * /account/delete. Both check the current password as a login does, with its throttles, so a
 * session left open on a shared computer cannot take the account over or delete it.
 */
export async function accountRoutes(app: FastifyInstance, deps: AccountRouteDeps): Promise<void> {
  /** The current password, checked as a login checks it; a wrong one is 403 (this session stays logged in). */
  const verify = async (username: string, password: string, ip: string) => {
    try {
      return await deps.accounts.login(username, password, addressKey(ip));
    } catch (error) {
      if (error instanceof AppError && error.code === ErrorCode.INVALID_CREDENTIALS) throw new AppError(ErrorCode.WRONG_PASSWORD, "Your current password is not that one");
      throw error;
    }
  };

  app.post<{ Body: PasswordChangeBody }>("/account/password", { schema: { body: PasswordChangeBody } }, async (request, reply) => {
    const req = request.raw;
    const access = await sessionAccess(req, deps.users, deps.sessionAbsoluteMs);
    if (!access || !req.sessionID) throw notLoggedIn();
    const { username } = access.account;
    const { currentPassword, newPassword } = request.body;
    const verified = await verify(username, currentPassword, request.ip);
    await checkAccountPassword(newPassword, username);
    if (newPassword === currentPassword) throw new AppError(ErrorCode.WEAK_PASSWORD, "Choose a password different from the current one");
    const hash = await deps.hashPassword(newPassword, username);
    // Over the hash just verified only (an operator's reset meanwhile wins); every session that
    // logged in before now ends — this one goes on, as if it had logged in now.
    const now = Math.max(Date.now(), verified.sessionsNotBefore);
    if (!(await deps.users.setPasswordHash(username, hash, false, { expectedHash: verified.passwordHash, sessionsNotBefore: now }))) {
      throw new AppError(ErrorCode.WRONG_PASSWORD, "Your password was changed meanwhile; log in again");
    }
    req.session!.loginAt = now;
    delete req.session!.mustChangePassword;
    await promisify((done) => req.session!.save(done));
    const ended = await deps.admin.sessions.endAll(username, "password_changed", req.sessionID);
    request.log.info({ event: "password_changed", user: username, sessionsEnded: ended }, "user changed their password");
    return reply.send({ ok: true, sessionsEnded: ended });
  });

  app.post<{ Body: AccountDeleteBody }>("/account/delete", { schema: { body: AccountDeleteBody } }, async (request, reply) => {
    const access = await sessionAccess(request.raw, deps.users, deps.sessionAbsoluteMs);
    if (!access || access.mustChangePassword) throw notLoggedIn();
    const { username } = access.account;
    await verify(username, request.body.password, request.ip);
    // Every session ends with the account, this one included.
    const deleted = await deps.admin.deleteUser(`self:${username}`, username);
    clearSessionCookie(reply, deps.cookieSecure);
    request.log.info({ event: "account_deleted", user: username, rooms: deleted.rooms }, "user deleted their account");
    return reply.send({ ok: true });
  });
}
