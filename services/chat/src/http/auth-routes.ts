import type { FastifyInstance } from "fastify";
import { ErrorCode } from "@sala/protocol";
import { CredentialsBody } from "@sala/protocol/schemas";
import type { AccountService } from "../domain/accounts.js";
import { sendError } from "./replies.js";
import { addressKey } from "./client-address.js";
import { currentUser, promisify, SESSION_COOKIE } from "./session.js";

export interface AuthRouteDeps {
  accounts: AccountService;
  sessionAbsoluteMs: number;
  cookieSecure: boolean;
  /** Disconnects, on every node, the sockets opened with this session. */
  endSessionSockets(sessionId: string): void;
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
    const username = await deps.accounts.login(request.body.username, request.body.password, addressKey(request.ip));
    const req = request.raw;
    const previous = req.sessionID;
    // A fresh session id at login: a session fixed before login is worth nothing after it.
    await promisify((done) => req.session!.regenerate(done));
    if (previous) deps.endSessionSockets(previous);
    req.session!.user = username;
    req.session!.loginAt = Date.now();
    await promisify((done) => req.session!.save(done));
    request.log.info({ event: "login", user: username }, "user logged in");
    return reply.send({ ok: true, username });
  });

  app.post("/logout", async (request, reply) => {
    const req = request.raw;
    const user = req.session?.user;
    const sessionId = req.sessionID;
    if (req.session) await promisify((done) => req.session!.destroy(done));
    if (sessionId) deps.endSessionSockets(sessionId);
    const secure = deps.cookieSecure ? "; Secure" : "";
    reply.header("set-cookie", `${SESSION_COOKIE}=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=Lax${secure}`);
    if (user) request.log.info({ event: "logout", user }, "user logged out");
    return reply.send({ ok: true });
  });

  app.get("/session", async (request, reply) => {
    const user = currentUser(request.raw, deps.sessionAbsoluteMs);
    if (!user) return sendError(reply, { code: ErrorCode.UNAUTHORIZED, message: "Not logged in" });
    return reply.send({ ok: true, username: user });
  });
}
