/**
 * Ends a user's sessions wherever they are: each one is destroyed in the session store (its cookie
 * is worth nothing from then on, on any node), taken off the user's session index, and a notice
 * closes the sockets opened with it on every node, telling them why (`signed_out`).
 */
import type { SignOutReason } from "@sala/protocol";
import type { Store } from "express-session";
import { sessionRoom, sessionTag } from "../http/session.js";
import type { SessionEntry, SessionIndexStore } from "../stores/types.js";
import type { NoticeBoard } from "./notices.js";

/** The session store as the revoker needs it (express-session's, promisified). */
export interface SessionRecords {
  destroy(sessionId: string): Promise<void>;
  exists(sessionId: string): Promise<boolean>;
}

export function sessionRecords(store: Store): SessionRecords {
  return {
    destroy: (id) => new Promise((resolve, reject) => store.destroy(id, (error?: unknown) => (error ? reject(error) : resolve()))),
    exists: (id) => new Promise((resolve, reject) => store.get(id, (error: unknown, data) => (error ? reject(error) : resolve(Boolean(data))))),
  };
}

/** A session as operators see it: never its id, only a tag derived from it. */
export interface SessionView {
  tag: string;
  loginAt: number;
}

export class SessionRevoker {
  constructor(
    private readonly index: SessionIndexStore,
    private readonly records: SessionRecords,
    private readonly notices: NoticeBoard,
  ) {}

  /** The user's live sessions (entries whose session expired are forgotten on the way). */
  async live(username: string): Promise<Array<SessionEntry & SessionView>> {
    const entries = await this.index.list(username);
    const alive = await Promise.all(entries.map((entry) => this.records.exists(entry.id)));
    await Promise.all(entries.filter((_, i) => !alive[i]).map((entry) => this.index.remove(username, entry.id)));
    return entries.filter((_, i) => alive[i]).map((entry) => ({ ...entry, tag: sessionTag(entry.id) }));
  }

  /**
   * Ends every listed session of the user but `keep` (the session asking, when a user changes their
   * own password), and closes every socket of the user on every node but `keep`'s, whatever session
   * it came with (a session no index lists too: its handshakes are refused by the account's
   * sessionsNotBefore, which the caller moved). → how many listed sessions ended.
   */
  async endAll(username: string, reason: SignOutReason, keep?: string): Promise<number> {
    const ending = (await this.index.list(username)).filter((entry) => entry.id !== keep);
    await this.end(username, ending);
    await this.notices.publish({ kind: "end_sessions", user: username, sessionRooms: null, ...(keep ? { except: sessionRoom(keep) } : {}), reason });
    return ending.length;
  }

  /** Ends the user's sessions with this tag (SessionView.tag). → how many (0: no such session). */
  async endTagged(username: string, tag: string, reason: SignOutReason): Promise<number> {
    const ending = (await this.index.list(username)).filter((entry) => sessionTag(entry.id) === tag);
    if (ending.length === 0) return 0;
    await this.end(username, ending);
    await this.notices.publish({ kind: "end_sessions", user: username, sessionRooms: ending.map((entry) => sessionRoom(entry.id)), reason });
    return ending.length;
  }

  /** Each session's record, then its index entry; the sessions side by side (one round trip, not one each). */
  private async end(username: string, entries: SessionEntry[]): Promise<void> {
    await Promise.all(
      entries.map(async (entry) => {
        await this.records.destroy(entry.id);
        await this.index.remove(username, entry.id);
      }),
    );
  }
}
