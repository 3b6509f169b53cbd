import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { ErrorCode } from "@sala/protocol";
import { CredentialsBody } from "@sala/protocol/schemas";
import type { AccountService } from "../domain/accounts.js";
import { AppError } from "../errors.js";
import type { SessionIndexStore, UserStore } from "../stores/types.js";
import { sendError } from "./replies.js";
import { addressKey } from "./client-address.js";
import { sessionAccess } from "./session-access.js";
import { promisify, SESSION_COOKIE } from "./session.js";

export interface AuthRouteDeps {
  accounts: AccountService;
  users: UserStore;
  sessionIndex: SessionIndexStore;
  sessionAbsoluteMs: number;
  cookieSecure: boolean;
  /** Tells the sockets opened with this session why it ended and closes them, on every node. */
  endSessionSockets(username: string, sessionId: string, reason: "logged_out" | "logged_in_again"): Promise<void>;
}

/** Sets an expired session cookie: the browser forgets it. */
export function clearSessionCookie(reply: FastifyReply, secure: boolean): void {
  reply.header("set-cookie", `${SESSION_COOKIE}=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=Lax${secure ? "; Secure" : ""}`);
}

/** Destroys the request's session (if any) and closes the sockets opened with it, on every node. */
export async function endRequestSession(request: FastifyRequest, deps: Pick<AuthRouteDeps, "sessionIndex" | "endSessionSockets">): Promise<void> {
  const req = request.raw;
  const user = req.session?.user;
  const sessionId = req.sessionID;
  if (req.session) await promisify((done) => req.session!.destroy(done));
  if (sessionId && user) {
    await deps.endSessionSockets(user, sessionId, "logged_out");
    await deps.sessionIndex.remove(user, sessionId);
  }
}

/** The seed's account paths: POST /register, /login, /logout, and GET /session for clients. */
export async function authRoutes(app: FastifyInstance, deps: AuthRouteDeps): Promise<void> {
  const schema = { body: CredentialsBody };

  app.post<{ Body: CredentialsBody }>("/register", { schema }, async (request, reply) => {
    const username = await deps.accounts.register(request.body.username, request.body.password, addressKey(request.ip));
    return reply.code(201).send({ ok: true, username });
  });

  app.post<{ Body: CredentialsBody }>("/login", { schema }, async (request, reply) => {
    // Throttles count per address, an IPv6 one per /64 (client-address.ts).
    const verified = await deps.accounts.login(request.body.username, request.body.password, addressKey(request.ip));
    const { username, mustChangePassword } = verified;
    const req = request.raw;
    const previous = req.sessionID;
    const previousUser = req.session?.user;
    // A fresh session id at login: a session fixed before login is worth nothing after it.
    await promisify((done) => req.session!.regenerate(done));
    if (previous && previousUser) await deps.endSessionSockets(previousUser, previous, "logged_in_again");
    // Never before the account's sessionsNotBefore, set by another node or the CLI whose clock may run ahead.
    const loginAt = Math.max(Date.now(), verified.sessionsNotBefore);
    req.session!.user = username;
    req.session!.loginAt = loginAt;
    if (mustChangePassword) req.session!.mustChangePassword = true;
    await promisify((done) => req.session!.save(done));
    await deps.sessionIndex.add(username, { id: req.sessionID!, loginAt }, loginAt - deps.sessionAbsoluteMs);
    // An operator's action between the password check and the session listed just now: a lock,
    // a reset or a revocation ends the sessions it finds listed after it acted, so this login is
    // either listed in time or sees the action here (the account locked, its hash replaced, or its
    // sessions ended after this one's login time).
    const now = await deps.users.account(username);
    if (!now || now.lockedAt !== 0 || now.passwordHash !== verified.passwordHash || now.sessionsNotBefore > loginAt) {
      await endRequestSession(request, deps);
      if (now?.lockedAt) throw new AppError(ErrorCode.ACCOUNT_LOCKED, "This account is locked");
      throw new AppError(ErrorCode.INVALID_CREDENTIALS, "Unknown user or wrong password");
    }
    await deps.users.recordSeen(username, loginAt, true);
    request.log.info({ event: "login", user: username, mustChangePassword }, "user logged in");
    return reply.send({ ok: true, username, ...(mustChangePassword ? { mustChangePassword: true } : {}) });
  });

  app.post("/logout", async (request, reply) => {
    const user = request.raw.session?.user;
    await endRequestSession(request, deps);
    clearSessionCookie(reply, deps.cookieSecure);
    if (user) request.log.info({ event: "logout", user }, "user logged out");
    return reply.send({ ok: true });
  });

  app.get("/session", async (request, reply) => {
    const access = await sessionAccess(request.raw, deps.users, deps.sessionAbsoluteMs);
    if (!access) return sendError(reply, { code: ErrorCode.UNAUTHORIZED, message: "Not logged in" });
    const { username } = access.account;
    if (access.mustChangePassword) return sendError(reply, { code: ErrorCode.PASSWORD_CHANGE_REQUIRED, message: `${username} must choose a new password first` });
    return reply.send({ ok: true, username });
  });
}
