/** A VU's account and socket: register + log in over HTTP, then Socket.IO with the session cookie. */
import { check } from "k6";
import { LOAD_PASSWORD, login, register } from "../../src/accounts.js";
import { connectClient, type SioClient } from "../../src/sio-client.js";
import { BASE_URL, ORIGIN } from "./config.js";
import { k6HttpPost, k6SocketFactory } from "./io.js";

export interface SignedIn {
  username: string;
  cookie: string;
}

export async function registerUser(username: string): Promise<void> {
  await register(k6HttpPost, BASE_URL, ORIGIN, { username, password: LOAD_PASSWORD });
}

export async function loginUser(username: string): Promise<SignedIn> {
  return { username, cookie: await login(k6HttpPost, BASE_URL, ORIGIN, { username, password: LOAD_PASSWORD }) };
}

/** Registers (an existing account is fine) and logs in; null, with a failed check, when either fails. */
export function signIn(username: string): Promise<SignedIn | null> {
  return checked("signed in", async () => {
    await registerUser(username);
    return loginUser(username);
  });
}

/** Opens a socket with the session cookie and waits for the connect, retrying refusals (see connectClient). */
export function openSocket(user: SignedIn, prepare?: (client: SioClient) => void): Promise<SioClient> {
  return connectClient(k6SocketFactory, { baseUrl: BASE_URL, cookie: user.cookie, origin: ORIGIN, connectTimeoutMs: 20_000 }, { attempts: 3, prepare });
}

/** Runs `step`; a throw becomes a failed check named `what` (and a warning), not a crashed VU. */
export async function checked<T>(what: string, step: () => Promise<T>): Promise<T | null> {
  try {
    const result = await step();
    check(result, { [what]: () => true });
    return result;
  } catch (error) {
    check(error, { [what]: () => false });
    console.warn(`${what}: ${String(error)}`);
    return null;
  }
}
