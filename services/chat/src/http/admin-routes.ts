import type { FastifyInstance, FastifyRequest } from "fastify";
import { ErrorCode, nameKey } from "@sala/protocol";
import {
  AdminAuditQuery,
  AdminPageQuery,
  AdminResetBody,
  AdminRevokeBody,
  AdminRoomParams,
  AdminUserParams,
} from "@sala/protocol/schemas";
import type { AdminService } from "../admin/service.js";
import { AppError } from "../errors.js";
import type { Access } from "../observability/routes.js";

export interface AdminRouteDeps {
  admin: AdminService;
  access(request: FastifyRequest): Promise<Access>;
}

const PAGE = 50;

/**
 * The admin page's API (/admin/api/…): what `sala-admin` does, for admins' sessions only, each
 * action on record as `web:<admin>`. Changes are POSTs, so the Origin check of every non-GET
 * request (app.ts) and the SameSite cookie keep other sites from making an admin's browser act.
 */
export async function adminRoutes(app: FastifyInstance, deps: AdminRouteDeps): Promise<void> {
  const { admin } = deps;
  /** The admin acting (`web:<name>`), or UNAUTHORIZED / FORBIDDEN. */
  const actor = async (request: FastifyRequest): Promise<{ name: string; actor: string }> => {
    const access = await deps.access(request);
    if (access === "anonymous") throw new AppError(ErrorCode.UNAUTHORIZED, "Log in as an admin");
    if (access === "forbidden") throw new AppError(ErrorCode.FORBIDDEN, "Admins only");
    // The access check read the account for this session: its user is the session's.
    const name = request.raw.session!.user!;
    return { name, actor: `web:${name}` };
  };
  /** An admin does not lock, delete or demote themselves from the page: another admin (or sala-admin) does. */
  const notSelf = (who: { name: string }, target: string, what: string) => {
    if (nameKey(who.name) === nameKey(target)) throw new AppError(ErrorCode.BAD_REQUEST, `You cannot ${what} your own account here; ask another admin or use sala-admin`);
  };
  const page = (query: AdminPageQuery) => ({
    prefix: nameKey((query.prefix ?? "").trim()),
    after: query.after ? nameKey(query.after) : null,
    limit: Math.min(Number(query.limit ?? PAGE), 200),
  });

  app.get<{ Querystring: AdminPageQuery }>("/admin/api/users", { schema: { querystring: AdminPageQuery } }, async (request) => {
    await actor(request);
    return { ok: true, ...(await admin.listUsers(page(request.query))) };
  });
  app.get<{ Params: AdminUserParams }>("/admin/api/users/:name", { schema: { params: AdminUserParams } }, async (request) => {
    await actor(request);
    return { ok: true, user: await admin.showUser(request.params.name) };
  });
  app.post<{ Params: AdminUserParams }>("/admin/api/users/:name/lock", { schema: { params: AdminUserParams } }, async (request) => {
    const who = await actor(request);
    notSelf(who, request.params.name, "lock");
    return { ok: true, ...(await admin.lock(who.actor, request.params.name)) };
  });
  app.post<{ Params: AdminUserParams }>("/admin/api/users/:name/unlock", { schema: { params: AdminUserParams } }, async (request) => {
    const who = await actor(request);
    return { ok: true, ...(await admin.unlock(who.actor, request.params.name)) };
  });
  app.post<{ Params: AdminUserParams }>("/admin/api/users/:name/grant-admin", { schema: { params: AdminUserParams } }, async (request) => {
    const who = await actor(request);
    return { ok: true, ...(await admin.setAdmin(who.actor, request.params.name, true)) };
  });
  app.post<{ Params: AdminUserParams }>("/admin/api/users/:name/revoke-admin", { schema: { params: AdminUserParams } }, async (request) => {
    const who = await actor(request);
    notSelf(who, request.params.name, "demote");
    return { ok: true, ...(await admin.setAdmin(who.actor, request.params.name, false)) };
  });
  app.post<{ Params: AdminUserParams; Body: AdminResetBody }>(
    "/admin/api/users/:name/reset-password",
    { schema: { params: AdminUserParams, body: AdminResetBody } },
    async (request) => {
      const who = await actor(request);
      const result = await admin.resetPassword(who.actor, request.params.name, request.body.password);
      // The one-time password goes to this admin once, and to no log.
      return { ok: true, oneTimePassword: result.oneTimePassword };
    },
  );
  app.post<{ Params: AdminUserParams; Body: AdminRevokeBody }>(
    "/admin/api/users/:name/revoke-sessions",
    { schema: { params: AdminUserParams, body: AdminRevokeBody } },
    async (request) => {
      const who = await actor(request);
      return { ok: true, sessionsEnded: await admin.revokeSessions(who.actor, request.params.name, request.body.session) };
    },
  );
  app.post<{ Params: AdminUserParams }>("/admin/api/users/:name/delete", { schema: { params: AdminUserParams } }, async (request) => {
    const who = await actor(request);
    notSelf(who, request.params.name, "delete");
    return { ok: true, ...(await admin.deleteUser(who.actor, request.params.name)) };
  });

  app.get<{ Querystring: AdminPageQuery }>("/admin/api/rooms", { schema: { querystring: AdminPageQuery } }, async (request) => {
    await actor(request);
    const rooms = await admin.listRooms(page(request.query));
    return { ok: true, rooms: rooms.items, next: rooms.next };
  });
  app.get<{ Params: AdminRoomParams }>("/admin/api/rooms/:room", { schema: { params: AdminRoomParams } }, async (request) => {
    await actor(request);
    return { ok: true, ...(await admin.showRoom(request.params.room)) };
  });
  app.post<{ Params: AdminRoomParams }>("/admin/api/rooms/:room/delete", { schema: { params: AdminRoomParams } }, async (request) => {
    const who = await actor(request);
    return { ok: true, room: await admin.deleteRoom(who.actor, request.params.room) };
  });

  app.get("/admin/api/stats", async (request) => {
    await actor(request);
    return { ok: true, stats: await admin.stats() };
  });
  app.get<{ Querystring: AdminAuditQuery }>("/admin/api/audit", { schema: { querystring: AdminAuditQuery } }, async (request) => {
    await actor(request);
    return { ok: true, entries: await admin.audit(Math.min(Number(request.query.limit ?? 50), 500)) };
  });
}
