/**
 * A steady, open-loop stream of the requests that touch sessions in Redis: logins (POST /login),
 * session reads (GET /session, which renews the session at the end of the response) and socket
 * handshakes (which load the session). Each request is counted, ok or failed, in the phase it
 * started and ended in, so a fault test can say what users saw before, during and after a fault;
 * one that was in flight when the phase changed is counted in ACROSS_PHASES.
 */
import { io } from "socket.io-client";
import { PASSWORD } from "./clients.js";

export type RequestKind = "login" | "session" | "handshake";

export interface Tally {
  ok: number;
  failed: number;
  /** Why requests failed: an HTTP status, "timeout", "network" or a handshake error message. */
  reasons: Record<string, number>;
}

export interface TrafficRates {
  /** Requests started per second, of each kind, whatever the answers take (open loop). */
  login: number;
  session: number;
  handshake: number;
}

const REQUEST_TIMEOUT_MS = 8000;

export const ACROSS_PHASES = "in flight across a phase change";

export class SteadyTraffic {
  private readonly tallies = new Map<string, Record<RequestKind, Tally>>();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private readonly cookies: string[] = [];
  private current = "start";
  private next = 0;
  /** When a login last succeeded (ms). */
  lastLoginOkAt = 0;

  constructor(
    private readonly baseUrl: string,
    private readonly usernames: string[],
    /** Cookies of logged-in sessions, for session reads and handshakes until logins add more. */
    seedCookies: string[],
  ) {
    this.cookies.push(...seedCookies);
  }

  /** Requests started from now on count in `name`. */
  phase(name: string): void {
    this.current = name;
  }

  start(rates: TrafficRates): void {
    for (const kind of ["login", "session", "handshake"] as const) {
      if (rates[kind] <= 0) continue;
      const timer = setInterval(() => this.track(kind, this.current), 1000 / rates[kind]);
      this.timers.push(timer);
    }
  }

  /** Stops starting requests and waits (bounded) for those in flight. */
  async stop(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    await Promise.race([Promise.allSettled([...this.inFlight]), new Promise((resolve) => setTimeout(resolve, REQUEST_TIMEOUT_MS + 2000))]);
  }

  report(): Map<string, Record<RequestKind, Tally>> {
    return this.tallies;
  }

  tally(phase: string): Record<RequestKind, Tally> {
    let tally = this.tallies.get(phase);
    if (!tally) {
      const empty = (): Tally => ({ ok: 0, failed: 0, reasons: {} });
      tally = { login: empty(), session: empty(), handshake: empty() };
      this.tallies.set(phase, tally);
    }
    return tally;
  }

  private track(kind: RequestKind, phase: string): void {
    const count = (ok: boolean, reason?: string) => {
      const tally = this.tally(this.current === phase ? phase : ACROSS_PHASES)[kind];
      if (ok) tally.ok++;
      else {
        tally.failed++;
        tally.reasons[reason!] = (tally.reasons[reason!] ?? 0) + 1;
      }
    };
    const request = (kind === "login" ? this.login() : kind === "session" ? this.readSession() : this.handshake()).then(
      () => count(true),
      (error: Error) => count(false, error.message),
    );
    this.inFlight.add(request);
    void request.finally(() => this.inFlight.delete(request));
  }

  private cookie(): string {
    return this.cookies[this.next++ % this.cookies.length]!;
  }

  private async login(): Promise<void> {
    const username = this.usernames[this.next++ % this.usernames.length];
    const response = await send(`${this.baseUrl}/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username, password: PASSWORD }),
    });
    const cookie = response.headers.get("set-cookie")?.split(";")[0];
    if (!cookie) throw new Error("no cookie");
    this.lastLoginOkAt = Date.now();
    // The newest sessions are read and handshaken with next; the pool stays small.
    this.cookies.push(cookie);
    if (this.cookies.length > 50) this.cookies.shift();
  }

  private async readSession(): Promise<void> {
    await send(`${this.baseUrl}/session`, { headers: { cookie: this.cookie() } });
  }

  private handshake(): Promise<void> {
    const socket = io(this.baseUrl, { transports: ["websocket"], extraHeaders: { cookie: this.cookie() }, reconnection: false, forceNew: true, timeout: REQUEST_TIMEOUT_MS });
    return new Promise<void>((resolve, reject) => {
      socket.once("connect", () => resolve());
      socket.once("connect_error", (error) => reject(new Error(`handshake ${error.message}`)));
    }).finally(() => socket.close());
  }
}

/**
 * fetch, bounded in time, with the body read (so the connection is reused). A failure is named by
 * its status and Sala's error code (`503 UNAVAILABLE`), or "timeout", or "network".
 */
async function send(url: string, init: RequestInit): Promise<{ status: number; headers: Headers }> {
  let response: Response;
  let body: string;
  try {
    response = await fetch(url, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    body = await response.text();
  } catch (error) {
    throw new Error((error as Error).name === "TimeoutError" ? "timeout" : "network");
  }
  if (response.status !== 200) {
    let code = "";
    try {
      code = String((JSON.parse(body) as { error?: { code?: string } }).error?.code ?? "");
    } catch {
      // not Sala's answer (nginx's error page)
    }
    throw new Error(`${response.status}${code ? ` ${code}` : ""}`);
  }
  return response;
}

/** One line per phase: `phase: login ok/failed {reasons}, session …, handshake …`. */
export function describeTallies(tallies: Map<string, Record<RequestKind, Tally>>): string {
  const last = (phase: string) => (phase === ACROSS_PHASES ? 1 : 0);
  return [...tallies]
    .sort(([a], [b]) => last(a) - last(b))
    .map(([phase, kinds]) => {
      const parts = (Object.entries(kinds) as Array<[RequestKind, Tally]>).map(([kind, { ok, failed, reasons }]) => {
        const why = failed > 0 ? ` ${JSON.stringify(reasons)}` : "";
        return `${kind} ${ok}/${failed}${why}`;
      });
      return `${phase}: ${parts.join(", ")}`;
    })
    .join("; ");
}
