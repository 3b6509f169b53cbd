/** The account API (same origin, cookie session). Every failure comes back as an ErrorBody. */
import type { ErrorBody } from "@sala/protocol";

export type ApiResult<T> = ({ ok: true } & T) | { ok: false; error: ErrorBody | { code: "NETWORK"; message: string } };

async function call<T extends object>(method: "GET" | "POST", path: string, body?: unknown): Promise<ApiResult<T>> {
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
  session: () => call<{ username: string }>("GET", "/session"),
  login: (username: string, password: string) => call<{ username: string }>("POST", "/login", { username, password }),
  register: (username: string, password: string) => call<{ username: string }>("POST", "/register", { username, password }),
  logout: () => call("POST", "/logout", {}),
};
