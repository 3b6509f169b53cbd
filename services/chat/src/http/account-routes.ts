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
import { currentUser, promisify, sessionUser } from "./session.js";

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
  app.post<{ Body: PasswordChangeBody }>("/account/password", { schema: { body: PasswordChangeBody } }, async (request, reply) => {
    const req = request.raw;
    const username = sessionUser(req, deps.sessionAbsoluteMs);
    if (!username || !req.sessionID) throw notLoggedIn();
    const { currentPassword, newPassword } = request.body;
    await deps.accounts.login(username, currentPassword, addressKey(request.ip));
    await checkAccountPassword(newPassword, username);
    if (newPassword === currentPassword) throw new AppError(ErrorCode.WEAK_PASSWORD, "Choose a password different from the current one");
    const hash = await deps.hashPassword(newPassword, username);
    if (!(await deps.users.setPasswordHash(username, hash, false))) throw notLoggedIn();
    // Every other session ends (a thief's included); this one goes on, now without the reset's bar.
    const ended = await deps.admin.sessions.endAll(username, "password_changed", req.sessionID);
    delete req.session!.mustChangePassword;
    await promisify((done) => req.session!.save(done));
    request.log.info({ event: "password_changed", user: username, sessionsEnded: ended }, "user changed their password");
    return reply.send({ ok: true, sessionsEnded: ended });
  });

  app.post<{ Body: AccountDeleteBody }>("/account/delete", { schema: { body: AccountDeleteBody } }, async (request, reply) => {
    const username = currentUser(request.raw, deps.sessionAbsoluteMs);
    if (!username) throw notLoggedIn();
    await deps.accounts.login(username, request.body.password, addressKey(request.ip));
    // Every session ends with the account, this one included.
    const deleted = await deps.admin.deleteUser(`self:${username}`, username);
    clearSessionCookie(reply, deps.cookieSecure);
    request.log.info({ event: "account_deleted", user: username, rooms: deleted.rooms }, "user deleted their account");
    return reply.send({ ok: true });
  });
}
