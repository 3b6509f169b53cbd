import session, { type SessionData } from "express-session";
import type { Statement } from "better-sqlite3";
import { writeTransaction, type SqliteDatabase } from "./database.js";

/*
 * Written here rather than taken from npm: the better-sqlite3 session stores there either open a
 * database file of their own (better-express-store) or are GPL-licensed and unmaintained
 * (better-sqlite3-session-store), and both clear expired sessions in one unbounded DELETE.
 */

export interface SqliteSessionStoreOptions {
  /** How long a session lives when its cookie names no expiry (ms): the idle timeout. */
  idleMs: number;
  /** How often expired sessions are swept (ms); 0: never (sweepExpired by hand). Default one minute. */
  sweepEveryMs?: number;
  /** Sessions one sweep step deletes at most; the event loop runs between steps. Default 500. */
  sweepChunk?: number;
  /** Told when a sweep fails (the next one tries again); the sweep never throws out of its timer. */
  onSweepError?: (error: unknown) => void;
}

type Callback<T = unknown> = (error: unknown, value?: T) => void;

/** Session renewals written in one transaction (≈ 3 ms of the event loop). */
const RENEW_CHUNK = 250;

/**
 * express-session's store over the node's SQLite file (`sessions`, account-tables.ts), beside the
 * accounts: a session survives a restart of the node as long as its cookie does. A row lives until
 * its cookie's expiry (or the idle timeout); expired rows are never returned, and a timer (unref'd:
 * it never keeps the process alive; `close` stops it) deletes them in bounded chunks.
 * The callbacks are called on a later turn of the event loop, as express-session's MemoryStore does.
 *
 * In the node this store runs on the SQLite store thread (thread/client.ts): "the event loop" here
 * is that thread's, which serves nothing else; the node's sockets never wait for it.
 */
export class SqliteSessionStore extends session.Store {
  private readonly select: Statement<[string, number], { data: string }>;
  private readonly upsert: Statement<[string, string, number]>;
  private readonly refresh: Statement<{ sid: string; cookie: string; expiresAt: number; now: number }>;
  private readonly remove: Statement<[string]>;
  private readonly sweepStep: Statement<[number, number]>;
  private readonly idleMs: number;
  private readonly sweepChunk: number;
  private readonly onSweepError: (error: unknown) => void;
  private timer: NodeJS.Timeout | null = null;
  private sweeping = false;
  private closed = false;
  /** Renewals asked for and not yet written (see renew). */
  private readonly renewals: Array<{ sid: string; cookie: SessionData["cookie"]; done: (alive: boolean) => void; failed: (error: unknown) => void }> = [];
  private renewing = false;
  private readonly renewChunk: (chunk: Array<{ sid: string; cookie: SessionData["cookie"] }>) => boolean[];

  constructor(db: SqliteDatabase, options: SqliteSessionStoreOptions) {
    super();
    this.renewChunk = writeTransaction(db, (chunk: Array<{ sid: string; cookie: SessionData["cookie"] }>) => chunk.map(({ sid, cookie }) => this.renewNow(sid, cookie)));
    this.idleMs = options.idleMs;
    this.sweepChunk = Math.max(1, options.sweepChunk ?? 500);
    this.onSweepError = options.onSweepError ?? (() => {});
    this.select = db.prepare("SELECT data FROM sessions WHERE sid = ? AND expires_at > ?");
    this.upsert = db.prepare(
      "INSERT INTO sessions (sid, data, expires_at) VALUES (?, ?, ?) ON CONFLICT (sid) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at",
    );
    // A touch renews a live session only (an expired one stays gone), and stores its cookie as MemoryStore does.
    this.refresh = db.prepare(
      "UPDATE sessions SET expires_at = @expiresAt, data = json_set(data, '$.cookie', json(@cookie)) WHERE sid = @sid AND expires_at > @now",
    );
    this.remove = db.prepare("DELETE FROM sessions WHERE sid = ?");
    // By sessions_by_expiry, oldest first.
    this.sweepStep = db.prepare("DELETE FROM sessions WHERE sid IN (SELECT sid FROM sessions WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)");
    const every = options.sweepEveryMs ?? 60_000;
    if (every > 0) {
      this.timer = setInterval(() => void this.sweepAll(), every);
      this.timer.unref();
    }
  }

  get(sid: string, callback: Callback<SessionData | null>): void {
    this.answer(callback, () => this.read(sid));
  }

  set(sid: string, data: SessionData, callback?: Callback): void {
    this.answer(callback, () => this.write(sid, data));
  }

  override touch(sid: string, data: SessionData, callback?: Callback): void {
    this.answer(callback, () => {
      this.renewNow(sid, data.cookie);
    });
  }

  destroy(sid: string, callback?: Callback): void {
    this.answer(callback, () => this.forget(sid));
  }

  /** The live session `sid`, or null (what get answers, at once: the store thread's SessionHost calls these). */
  read(sid: string): SessionData | null {
    const row = this.select.get(sid, Date.now());
    return row ? (JSON.parse(row.data) as SessionData) : null;
  }

  /** Keeps `data` until its cookie's expiry (what set does). */
  write(sid: string, data: SessionData): void {
    const now = Date.now();
    const expiresAt = this.expiresAt(data.cookie, now);
    // Already expired (as connect-redis does with a TTL of 0 or less): nothing is kept.
    if (expiresAt <= now) this.remove.run(sid);
    else this.upsert.run(sid, JSON.stringify(data), expiresAt);
  }

  forget(sid: string): void {
    this.remove.run(sid);
  }

  /**
   * Starts the session's idle timeout again with `cookie` (what touch does), in one statement;
   * false when the session is not in the store (ended, or expired). What http/session.ts's
   * `renew` needs, without a get before the touch. Written with the other renewals asked for in
   * the same turn (writeRenewals).
   */
  renew(sid: string, cookie: SessionData["cookie"]): Promise<boolean> {
    return new Promise((done, failed) => {
      this.renewals.push({ sid, cookie, done, failed });
      if (!this.renewing) {
        this.renewing = true;
        setImmediate(() => this.writeRenewals());
      }
    });
  }

  /**
   * The session keeper renews every open socket's session at once: one commit each held the event
   * loop ≈ 0.1 ms, so 10,000 sockets held it a second. They are written RENEW_CHUNK to a transaction
   * instead, the loop running between transactions.
   */
  private writeRenewals(): void {
    const chunk = this.renewals.splice(0, RENEW_CHUNK);
    try {
      const alive = this.renewChunk(chunk);
      chunk.forEach((renewal, i) => renewal.done(alive[i]!));
    } catch (error) {
      for (const renewal of chunk) renewal.failed(error);
    }
    if (this.renewals.length > 0) setImmediate(() => this.writeRenewals());
    else this.renewing = false;
  }

  /** Deletes up to one chunk of expired sessions; returns how many. */
  sweepExpired(now = Date.now()): number {
    return this.sweepStep.run(now, this.sweepChunk).changes;
  }

  /** Stops the sweep timer (the node's shutdown); the database itself is the caller's to close. */
  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** One sweep: chunk after chunk while chunks come back full, the event loop running between them. */
  private async sweepAll(): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      while (!this.closed && this.sweepExpired() === this.sweepChunk) await new Promise((resolve) => setImmediate(resolve));
    } catch (error) {
      this.onSweepError(error);
    } finally {
      this.sweeping = false;
    }
  }

  /** Starts the idle timeout again with `cookie` (what touch does); false when the session is not live. */
  renewNow(sid: string, cookie: SessionData["cookie"]): boolean {
    const now = Date.now();
    const expiresAt = this.expiresAt(cookie, now);
    if (expiresAt <= now) {
      this.remove.run(sid);
      return false;
    }
    return this.refresh.run({ sid, cookie: JSON.stringify(cookie), expiresAt, now }).changes === 1;
  }

  /** When a session with this cookie expires: the cookie's own expiry, else the idle timeout from now. */
  private expiresAt(cookie: SessionData["cookie"] | undefined, now: number): number {
    const expires = cookie?.expires ? new Date(cookie.expires).getTime() : Number.NaN;
    return Number.isFinite(expires) ? expires : now + this.idleMs;
  }

  /** Runs `work` now (SQLite is synchronous) and reports to `callback` on a later turn. */
  private answer<T>(callback: Callback<T> | undefined, work: () => T): void {
    let result: T;
    try {
      result = work();
    } catch (error) {
      setImmediate(() => callback?.(error));
      return;
    }
    setImmediate(() => callback?.(null, result));
  }
}
