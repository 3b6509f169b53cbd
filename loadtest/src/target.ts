/**
 * What the Node driver drives: Sala (accounts over HTTP, the session cookie on the socket) or the
 * bare baseline (a name in the handshake auth). Everything after the handshake is the same wire.
 */
import { login, register, LOAD_PASSWORD, type Credentials } from "./accounts.js";
import { nodeHttpPost } from "./node-http.js";
import { nodeSocketFactory } from "./node-socket.js";
import { connectClient, type SioClient } from "./sio-client.js";

export interface Target {
  kind: "sala" | "baseline";
  /** Node URLs (or one load balancer); clients spread over them round-robin. */
  urls: string[];
  origin: string;
}

/** A load user: a name, and for Sala the session cookie of one login. */
export interface LoadUser {
  username: string;
  cookie: string | null;
}

export function credentials(username: string): Credentials {
  return { username, password: LOAD_PASSWORD };
}

/** Registers (if needed) and logs in through `url`. The baseline has no accounts. */
export async function signIn(target: Target, username: string, url = target.urls[0]!): Promise<LoadUser> {
  if (target.kind === "baseline") return { username, cookie: null };
  await register(nodeHttpPost, url, target.origin, credentials(username));
  return { username, cookie: await login(nodeHttpPost, url, target.origin, credentials(username)) };
}

export interface ConnectOptions {
  /** Handshake auth (Sala: `{ rooms }` to rejoin after a reconnect). */
  auth?: object;
  attempts?: number;
  /** Called on each new client before the connect completes: register handlers here (the lobby snapshot follows at once). */
  prepare?: (client: SioClient) => void;
}

/** Opens a socket for `user` on `url` and waits for the connect, retrying refusals (connectClient). */
export function connect(target: Target, user: LoadUser, url: string, options: ConnectOptions = {}): Promise<SioClient> {
  const { auth = {}, attempts = 5, prepare } = options;
  const sioOptions = {
    baseUrl: url,
    cookie: user.cookie,
    origin: target.origin,
    auth: target.kind === "baseline" ? { ...auth, username: user.username } : auth,
    connectTimeoutMs: 20_000,
  };
  return connectClient(nodeSocketFactory, sioOptions, { attempts, prepare });
}

/**
 * Runs `task` over `items` with at most `concurrency` in flight; results in order. After a failure
 * no new task starts, and the first error is thrown once the tasks under way have settled (so a
 * caller's cleanup sees everything that was opened).
 */
export async function inPool<T, R>(items: readonly T[], concurrency: number, task: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | null = null;
  const worker = async () => {
    while (!failure && next < items.length) {
      const index = next++;
      try {
        results[index] = await task(items[index]!, index);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  if (failure) throw (failure as { error: unknown }).error;
  return results;
}
