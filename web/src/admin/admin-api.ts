/**
 * The admin page's API (/admin/api/…, admins' sessions only), as the node answers it
 * (services/chat/src/http/admin-routes.ts). Every answer is checked once here: a session that is
 * gone, or that is no longer an admin's, is reported to the page (`onDenied`) whatever asked.
 */
import { ErrorCode, type AdminAccount, type AdminAccountDetail, type AdminAuditEntry, type AdminRoomDetail, type AdminStats, type RoomSummary } from "@sala/protocol";
import { request, type ApiResult } from "../lib/api.js";

/** A page of a list by name, and where the next one starts (null: the last page). */
export interface Page<T> {
  items: T[];
  next: string | null;
}

export const PAGE_SIZE = 50;

const path = (...parts: string[]) => `/admin/api/${parts.map(encodeURIComponent).join("/")}`;

/** `?prefix=…&after=…&limit=…`, leaving out what is empty (the server's query schema is strict). */
function pageQuery(prefix: string, after: string | null): string {
  const query = new URLSearchParams();
  if (prefix) query.set("prefix", prefix);
  if (after) query.set("after", after);
  query.set("limit", String(PAGE_SIZE));
  return `?${query.toString()}`;
}

export type AdminApi = ReturnType<typeof createAdminApi>;

/** `onDenied` hears UNAUTHORIZED (logged out) and FORBIDDEN (not, or no longer, an admin). */
export function createAdminApi(onDenied: (code: typeof ErrorCode.UNAUTHORIZED | typeof ErrorCode.FORBIDDEN) => void) {
  async function call<T extends object>(method: "GET" | "POST", url: string, body?: unknown): Promise<ApiResult<T>> {
    const answer = await request<T>(method, url, body ?? (method === "POST" ? {} : undefined));
    if (!answer.ok && (answer.error.code === ErrorCode.UNAUTHORIZED || answer.error.code === ErrorCode.FORBIDDEN)) onDenied(answer.error.code);
    return answer;
  }
  const post = <T extends object>(url: string, body?: unknown) => call<T>("POST", url, body);

  return {
    stats: () => call<{ stats: AdminStats }>("GET", path("stats")),
    audit: (limit: number) => call<{ entries: AdminAuditEntry[] }>("GET", `${path("audit")}?limit=${limit}`),

    async users(prefix: string, after: string | null): Promise<ApiResult<Page<AdminAccount>>> {
      const answer = await call<{ users: AdminAccount[]; next: string | null }>("GET", path("users") + pageQuery(prefix, after));
      return answer.ok ? { ok: true, items: answer.users, next: answer.next } : answer;
    },
    user: (name: string) => call<{ user: AdminAccountDetail }>("GET", path("users", name)),
    lock: (name: string) => post<{ username: string; sessionsEnded: number }>(path("users", name, "lock")),
    unlock: (name: string) => post<{ username: string; outcome: string }>(path("users", name, "unlock")),
    setAdmin: (name: string, admin: boolean) => post<{ username: string; outcome: string }>(path("users", name, admin ? "grant-admin" : "revoke-admin")),
    /** A one-time password (answered once) when `password` is not given. */
    resetPassword: (name: string, password?: string) =>
      post<{ oneTimePassword: string | null }>(path("users", name, "reset-password"), password === undefined ? {} : { password }),
    /** Every session of the user, or the one with this tag. */
    revokeSessions: (name: string, session?: string) =>
      post<{ sessionsEnded: number }>(path("users", name, "revoke-sessions"), session === undefined ? {} : { session }),
    deleteUser: (name: string) => post<{ username: string; rooms: number; left: number; conversations: number }>(path("users", name, "delete")),

    async rooms(prefix: string, after: string | null): Promise<ApiResult<Page<RoomSummary>>> {
      const answer = await call<{ rooms: RoomSummary[]; next: string | null }>("GET", path("rooms") + pageQuery(prefix, after));
      return answer.ok ? { ok: true, items: answer.rooms, next: answer.next } : answer;
    },
    room: (roomId: string) => call<AdminRoomDetail>("GET", path("rooms", roomId)),
    deleteRoom: (roomId: string) => post<{ room: { id: string; name: string } }>(path("rooms", roomId, "delete")),
  };
}
