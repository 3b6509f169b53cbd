/**
 * Accounts over Sala's HTTP API, with the HTTP client passed in (fetch under Node, k6/http under
 * k6), so the scenarios share one definition of "register" and "log in".
 */
export interface HttpAnswer {
  status: number;
  /** The session cookie pair ("sala.sid=...") when the answer set one. */
  cookie: string | null;
}
export type HttpPost = (url: string, body: object, headers: Record<string, string>) => Promise<HttpAnswer>;

export interface Credentials {
  username: string;
  password: string;
}

export const LOAD_PASSWORD = "load-test-password-1";

/** Registers; an existing account (409) is fine, as a rerun against the same Redis finds it. */
export async function register(post: HttpPost, baseUrl: string, origin: string, user: Credentials): Promise<void> {
  const answer = await post(`${baseUrl}/register`, user, { origin });
  if (answer.status !== 201 && answer.status !== 409) throw new Error(`register ${user.username}: HTTP ${answer.status}`);
}

/** Logs in and returns the session cookie. */
export async function login(post: HttpPost, baseUrl: string, origin: string, user: Credentials): Promise<string> {
  const answer = await post(`${baseUrl}/login`, user, { origin });
  if (answer.status !== 200 || !answer.cookie) throw new Error(`login ${user.username}: HTTP ${answer.status}`);
  return answer.cookie;
}

/** First `name=value` pair of a Set-Cookie header. */
export function cookiePair(setCookie: string | null | undefined): string | null {
  return setCookie ? (setCookie.split(";")[0] ?? null) : null;
}
