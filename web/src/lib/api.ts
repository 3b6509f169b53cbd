/** The account API (same origin, cookie session). Every failure comes back as an ErrorBody. */
import type { ErrorBody } from "@sala/protocol";

export type ApiError = ErrorBody | { code: "NETWORK"; message: string };
export type ApiResult<T> = ({ ok: true } & T) | { ok: false; error: ApiError };

/** One JSON request to the node; a network failure (or an answer that is not Sala's JSON) is NETWORK. */
export async function request<T extends object>(method: "GET" | "POST", path: string, body?: unknown): Promise<ApiResult<T>> {
  try {
    const response = await fetch(path, {
      method,
      credentials: "same-origin",
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return (await response.json()) as ApiResult<T>;
  } catch {
    return { ok: false, error: { code: "NETWORK", message: "network error" } };
  }
}

export const api = {
  /** Fails with PASSWORD_CHANGE_REQUIRED while the session may only choose a new password. */
  session: () => request<{ username: string }>("GET", "/session"),
  /** `mustChangePassword`: an operator reset the password; the session may only change it (changePassword). */
  login: (username: string, password: string) =>
    request<{ username: string; mustChangePassword?: boolean }>("POST", "/login", { username, password }),
  register: (username: string, password: string) => request<{ username: string }>("POST", "/register", { username, password }),
  logout: () => request("POST", "/logout", {}),
  /** The session's user sets a new password; their other sessions end (this one goes on). */
  changePassword: (currentPassword: string, newPassword: string) =>
    request<{ sessionsEnded: number }>("POST", "/account/password", { currentPassword, newPassword }),
  /** Deletes the session's account (rooms it owns, memberships, conversations); the cookie is cleared. */
  deleteAccount: (password: string) => request("POST", "/account/delete", { password }),
};
