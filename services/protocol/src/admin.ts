/**
 * What the admin API (GET/POST /admin/api/…, admins only) answers, for the node and the web
 * client's /admin page. The same data `sala-admin` prints.
 */
import type { NodeSample, RoomSummary } from "./events.js";

/** An account as operators see it (never its password hash). */
export interface AdminAccount {
  username: string;
  createdAt: number;
  admin: boolean;
  /** When an operator locked it (ms); 0: not locked. */
  lockedAt: number;
  /** An operator reset the password; the next login must choose a new one. */
  mustChangePassword: boolean;
  /** ms; 0: never. */
  lastLoginAt: number;
  /** The last login, or when the user's last socket closed (ms); 0: never. */
  lastSeenAt: number;
  online: boolean;
}

/** A login session, named by a tag derived from its id (never the id). */
export interface AdminSession {
  tag: string;
  loginAt: number;
}

export interface AdminAccountDetail extends AdminAccount {
  /** Rooms the user is a member of. */
  rooms: RoomSummary[];
  /** Rooms the user owns (deleted with the account). */
  owned: RoomSummary[];
  sessions: AdminSession[];
  conversations: number;
}

export interface AdminRoomDetail {
  room: RoomSummary;
  members: string[];
  barred: string[];
  /** The room's current key id (rotated on every departure from a private room). */
  keyId: number;
}

export interface AdminStats {
  accounts: number;
  online: number;
  rooms: number;
  /** The latest health sample of each live node. */
  nodes: NodeSample[];
}

/** One operator action on record. */
export interface AdminAuditEntry {
  ts: number;
  /** Who: the OS user of `sala-admin`, `web:<admin>` from the admin page, `self:<user>` for a user's own deletion. */
  actor: string;
  action: string;
  target: string;
  outcome: string;
}
