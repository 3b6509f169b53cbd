/**
 * What operators do to accounts and rooms, written once for the three ways in: the admin CLI (on
 * the cluster's Redis), an embedded node's admin socket, and the admin page (a node's HTTP API).
 * Each action changes the stores first, then publishes a notice (notices.ts) that every node
 * applies to its own sockets, and leaves an audit entry (a pino line and a record in the store).
 */
import { randomInt } from "node:crypto";
import type { Store } from "express-session";
import { conversationId, ErrorCode, nameKey, type AdminAccount, type AdminAccountDetail, type AdminRoomDetail, type AdminStats, type NodeSample } from "@sala/protocol";
import { checkAccountPassword } from "../domain/password-policy.js";
import { isUsername } from "../domain/names.js";
import { AppError } from "../errors.js";
import type { Logger } from "../logger.js";
import { mintKey } from "../realtime/epoch-keys.js";
import type { AuditEntry, LobbyPageQuery, Stores, UserAccount } from "../stores/types.js";
import { recordAudit } from "./audit.js";
import type { NoticeBoard } from "./notices.js";
import { SessionRevoker, sessionRecords } from "./session-revoker.js";

/** Conversations deleted per read when an account goes. */
const CONVERSATION_BATCH = 200;
/** Characters of a one-time password: no look-alikes (0/O, 1/l/I). */
const ONE_TIME_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789";

export type AccountView = AdminAccount;
export type AccountDetail = AdminAccountDetail;
export type RoomDetail = AdminRoomDetail;
export type Stats = AdminStats;

export interface AdminServiceDeps {
  stores: Pick<Stores, "users" | "rooms" | "conversations" | "lobby" | "presence" | "audit" | "samples">;
  revoker: SessionRevoker;
  notices: NoticeBoard;
  hashPassword(password: string): Promise<string>;
  /** A node counts as live while its last health sample is this recent (NODE_TTL_MS). */
  nodeTtlMs: number;
  logger: Logger;
}

const noSuchUser = (name: string) => new AppError(ErrorCode.USER_NOT_FOUND, `no such user: ${name}`);
const noSuchRoom = (ref: string) => new AppError(ErrorCode.ROOM_NOT_FOUND, `no such room: ${ref}`);

/** A one-time password: 16 characters from a 31-letter alphabet (≈ 79 bits), in groups of four. */
export function oneTimePassword(): string {
  const chars = Array.from({ length: 16 }, () => ONE_TIME_ALPHABET[randomInt(ONE_TIME_ALPHABET.length)]!);
  return [0, 4, 8, 12].map((at) => chars.slice(at, at + 4).join("")).join("-");
}

/** What operators see of an account: field by field, so nothing else of the record (its password hash) leaves. */
function toView(account: UserAccount, online: boolean): AccountView {
  const { username, createdAt, admin, lockedAt, mustChangePassword, lastLoginAt, lastSeenAt } = account;
  return { username, createdAt, admin, lockedAt, mustChangePassword, lastLoginAt, lastSeenAt, online };
}

/** The service over a node's (or the CLI's) stores and session store. */
export function createAdminService(options: {
  stores: Stores;
  sessionStore: Store;
  notices: NoticeBoard;
  hashPassword(password: string): Promise<string>;
  nodeTtlMs: number;
  logger: Logger;
}): AdminService {
  const { stores, sessionStore, notices, hashPassword, nodeTtlMs, logger } = options;
  const revoker = new SessionRevoker(stores.sessionIndex, sessionRecords(sessionStore), notices);
  return new AdminService({ stores, revoker, notices, hashPassword, nodeTtlMs, logger });
}

export class AdminService {
  constructor(private readonly deps: AdminServiceDeps) {}

  /** Ends sessions (the user's own password change uses it too). */
  get sessions(): SessionRevoker {
    return this.deps.revoker;
  }

  // ---- reading ----

  async listUsers(query: LobbyPageQuery): Promise<{ users: AccountView[]; next: string | null }> {
    const { users, lobby } = this.deps.stores;
    const page = await users.directory(query);
    // The accounts of the page, and who of them is online in one read (not one per account).
    const [accounts, presence] = await Promise.all([Promise.all(page.items.map((key) => users.account(key))), lobby.onlineOf(page.items)]);
    const online = new Set(presence.online.map(nameKey));
    const found = accounts.filter((account): account is UserAccount => account !== null);
    return { users: found.map((account) => toView(account, online.has(nameKey(account.username)))), next: page.next };
  }

  async showUser(name: string): Promise<AccountDetail> {
    const { rooms, conversations } = this.deps.stores;
    const view = await this.view(name);
    if (!view) throw noSuchUser(name);
    const [memberOf, owned, sessions, partners] = await Promise.all([
      rooms.roomsOf(view.username),
      rooms.ownedBy(view.username),
      this.deps.revoker.live(view.username),
      conversations.partners(view.username, 10_000),
    ]);
    return {
      ...view,
      rooms: await rooms.summaries(memberOf),
      owned: await rooms.summaries(owned),
      sessions: sessions.map(({ tag, loginAt }) => ({ tag, loginAt })),
      conversations: partners.length,
    };
  }

  listRooms(query: LobbyPageQuery) {
    return this.deps.stores.lobby.roomPage(query);
  }

  /** A room by id, or by its name (case-insensitively). */
  async showRoom(ref: string): Promise<RoomDetail> {
    const { rooms } = this.deps.stores;
    const id = await this.roomId(ref);
    const [summary, members, barred, key] = await Promise.all([rooms.summary(id), rooms.members(id), rooms.barred(id), rooms.currentKey(id)]);
    if (!summary) throw noSuchRoom(ref);
    return { room: summary, members, barred, keyId: key?.id ?? 0 };
  }

  async stats(now = Date.now()): Promise<Stats> {
    const { users, lobby, samples } = this.deps.stores;
    const [accounts, counts, recent] = await Promise.all([users.count(), lobby.counts(), samples.recent(now, this.deps.nodeTtlMs)]);
    const latest = new Map<string, NodeSample>();
    for (const sample of recent) latest.set(sample.node, sample);
    return { accounts, online: counts.users, rooms: counts.rooms, nodes: [...latest.values()].sort((a, b) => a.node.localeCompare(b.node)) };
  }

  audit(limit: number): Promise<AuditEntry[]> {
    return this.deps.stores.audit.recent(limit);
  }

  // ---- acting ----

  async setAdmin(actor: string, name: string, admin: boolean): Promise<{ username: string; outcome: "done" | "unchanged" }> {
    const action = admin ? "grant-admin" : "revoke-admin";
    const account = await this.existing(actor, action, name);
    const outcome = account.admin === admin ? "unchanged" : "done";
    if (outcome === "done" && !(await this.deps.stores.users.setAdmin(account.username, admin))) throw await this.gone(actor, action, name);
    await this.record(actor, action, account.username, outcome);
    return { username: account.username, outcome };
  }

  /**
   * Locks the account (no login succeeds) and ends every session it has, closing its sockets on
   * every node. Locking first: a login that passed its check before is caught by its own check
   * after it saved its session (http/auth-routes.ts), or by the session list read here after.
   */
  async lock(actor: string, name: string): Promise<{ username: string; sessionsEnded: number }> {
    const account = await this.existing(actor, "lock", name);
    if (!(await this.deps.stores.users.setLocked(account.username, true, Date.now()))) throw await this.gone(actor, "lock", name);
    const ended = await this.deps.revoker.endAll(account.username, "locked");
    await this.record(actor, "lock", account.username, account.lockedAt ? `unchanged sessions=${ended}` : `done sessions=${ended}`);
    return { username: account.username, sessionsEnded: ended };
  }

  async unlock(actor: string, name: string): Promise<{ username: string; outcome: "done" | "unchanged" }> {
    const account = await this.existing(actor, "unlock", name);
    if (!(await this.deps.stores.users.setLocked(account.username, false, Date.now()))) throw await this.gone(actor, "unlock", name);
    const outcome = account.lockedAt ? "done" : "unchanged";
    await this.record(actor, "unlock", account.username, outcome);
    return { username: account.username, outcome };
  }

  /**
   * Sets `password` (checked like a chosen one), or a one-time password when none is given, which
   * the next login must replace; ends every session of the account. → the one-time password.
   */
  async resetPassword(actor: string, name: string, password?: string): Promise<{ username: string; oneTimePassword: string | null }> {
    const account = await this.existing(actor, "reset-password", name);
    if (password !== undefined) await checkAccountPassword(password, account.username);
    const chosen = password ?? oneTimePassword();
    const hash = await this.deps.hashPassword(chosen);
    if (!(await this.deps.stores.users.setPasswordHash(account.username, hash, true, { sessionsNotBefore: Date.now() }))) throw await this.gone(actor, "reset-password", name);
    const ended = await this.deps.revoker.endAll(account.username, "password_reset");
    await this.record(actor, "reset-password", account.username, `done sessions=${ended}${password === undefined ? " one-time" : ""}`);
    return { username: account.username, oneTimePassword: password === undefined ? chosen : null };
  }

  /** Ends the user's sessions: all of them, or the one with this tag (`users show` lists them). */
  async revokeSessions(actor: string, name: string, tag?: string): Promise<number> {
    const account = await this.existing(actor, "revoke-sessions", name);
    if (tag === undefined) await this.deps.stores.users.endSessionsBefore(account.username, Date.now());
    const ended = tag === undefined ? await this.deps.revoker.endAll(account.username, "sessions_revoked") : await this.deps.revoker.endTagged(account.username, tag, "sessions_revoked");
    if (tag !== undefined && ended === 0) {
      await this.record(actor, "revoke-sessions", `${account.username}/${tag}`, "unknown_session");
      throw new AppError(ErrorCode.NOT_FOUND, `${account.username} has no session ${tag}`);
    }
    await this.record(actor, "revoke-sessions", tag === undefined ? account.username : `${account.username}/${tag}`, `done sessions=${ended}`);
    return ended;
  }

  /**
   * Deletes the account and what is only theirs: it is locked first (no login meanwhile), its
   * sessions end and its sockets close on every node; the rooms it owns are deleted (their members
   * see them go); it leaves every other room (a private room gets a new key, as on any departure);
   * its conversations are deleted for both participants; then the account itself, whose name may
   * be registered again. Messages it sent to rooms stay in their history, under its name.
   */
  async deleteUser(actor: string, name: string, reason: "deleted" = "deleted"): Promise<{ username: string; rooms: number; left: number; conversations: number }> {
    const { users, rooms, conversations } = this.deps.stores;
    const account = await this.existing(actor, "delete-user", name);
    const username = account.username;
    await users.setLocked(username, true, Date.now());
    await this.deps.revoker.endAll(username, reason);
    let deletedRooms = 0;
    let left = 0;
    // Twice: a join or a room creation already on its way on another node when the sessions
    // ended may land after the first pass read the user's rooms.
    for (let pass = 0; pass < 2; pass++) {
      for (const roomId of await rooms.ownedBy(username)) if (await this.removeRoom(roomId)) deletedRooms++;
      for (const roomId of await rooms.roomsOf(username)) if (await this.leaveRoom(roomId, username)) left++;
    }
    let deletedConversations = 0;
    // By the partners the user's list names (not list(), which skips entries whose conversation is
    // half gone): each deletion takes the entry off both lists, so this ends.
    const deleted = new Set<string>();
    for (;;) {
      const partners = (await conversations.partners(username, CONVERSATION_BATCH)).filter((partner) => !deleted.has(partner));
      if (partners.length === 0) break; // users.delete drops whatever entry could not be parsed
      for (const partner of partners) {
        await conversations.delete(conversationId(username, partner));
        deleted.add(partner);
      }
      deletedConversations += partners.length;
    }
    await users.delete(username);
    await this.record(actor, "delete-user", username, `done rooms=${deletedRooms} left=${left} conversations=${deletedConversations}`);
    return { username, rooms: deletedRooms, left, conversations: deletedConversations };
  }

  /** Deletes a room (by id or name); its members see it go, on every node. */
  async deleteRoom(actor: string, ref: string): Promise<{ id: string; name: string }> {
    let id: string;
    try {
      id = await this.roomId(ref);
    } catch (error) {
      await this.record(actor, "delete-room", ref, "unknown_room");
      throw error;
    }
    const room = await this.removeRoom(id);
    if (!room) {
      await this.record(actor, "delete-room", ref, "unknown_room");
      throw noSuchRoom(ref);
    }
    await this.record(actor, "delete-room", `${room.name} (${id})`, "done");
    return { id, name: room.name };
  }

  /** The repair (Redis only) is run by the CLI itself; its outcome goes on record here. */
  recordRepair(actor: string, action: string, outcome: string): Promise<void> {
    return this.record(actor, action, "*", outcome);
  }

  // ---- steps ----

  private async removeRoom(roomId: string): Promise<{ name: string } | null> {
    const room = await this.deps.stores.rooms.get(roomId);
    if (!room) return null;
    const deleted = await this.deps.stores.rooms.delete(roomId);
    if (!deleted) return null;
    await this.deps.notices.publish({ kind: "room_deleted", roomId, name: room.name, rev: deleted.rev });
    this.deps.logger.info({ event: "room_deleted", room: roomId, by: "admin" }, "room deleted by an operator");
    return { name: room.name };
  }

  /** A deleted account leaves a room: as any departure, a private room's key changes. */
  private async leaveRoom(roomId: string, username: string): Promise<boolean> {
    const { rooms } = this.deps.stores;
    const change = await rooms.removeMember(roomId, username, Date.now());
    if (!change.changed) return false;
    const record = await rooms.get(roomId);
    const key = record?.passwordHash ? await rooms.rotateKey(roomId, mintKey()) : null;
    const summary = await rooms.summary(roomId);
    await this.deps.notices.publish({ kind: "member_left", roomId, username: change.username, summary, rev: change.rev, key });
    return true;
  }

  private async roomId(ref: string): Promise<string> {
    const { rooms, lobby } = this.deps.stores;
    if (await rooms.get(ref)) return ref;
    const key = nameKey(ref.trim());
    const page = await lobby.roomPage({ prefix: key, after: null, limit: 1 });
    const found = page.items.find((room) => nameKey(room.name) === key);
    if (!found) throw noSuchRoom(ref);
    return found.id;
  }

  private async view(name: string): Promise<AccountView | null> {
    const { users, presence } = this.deps.stores;
    const account = isUsername(nameKey(name)) ? await users.account(name) : null;
    return account ? toView(account, await presence.isOnline(account.username)) : null;
  }

  /** The account, or — recorded — USER_NOT_FOUND. */
  private async existing(actor: string, action: string, name: string): Promise<UserAccount> {
    const account = isUsername(nameKey(name)) ? await this.deps.stores.users.account(name) : null;
    if (!account) throw await this.gone(actor, action, name);
    return account;
  }

  private async gone(actor: string, action: string, name: string): Promise<AppError> {
    await this.record(actor, action, name, "unknown_user");
    return noSuchUser(name);
  }

  private record(actor: string, action: string, target: string, outcome: string): Promise<void> {
    return recordAudit(this.deps.stores.audit, this.deps.logger, { ts: Date.now(), actor, action, target, outcome });
  }
}
