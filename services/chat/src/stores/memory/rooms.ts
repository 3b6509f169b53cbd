import { byActivity, compareNameKeys, type RoomKey, type RoomMessage, type RoomSummary } from "@sala/protocol";
import {
  MAX_BARRED_PER_ROOM,
  nameKey,
  oldestKept,
  type Admission,
  type Barring,
  type HistoryCap,
  type HistoryQuery,
  type IncomingMessage,
  type MembershipChange,
  type MessageChange,
  type MessageChangeResult,
  type RoomAcceptResult,
  type RoomCreation,
  type RoomRecord,
  type RoomStore,
} from "../types.js";
import { confusableKey, NameConfusableError } from "../../domain/confusables.js";
import { MessageLog, pickKeys } from "./message-log.js";
import type { Revision } from "./revision.js";
import { SortedList } from "./sorted-list.js";

interface RoomState {
  record: RoomRecord;
  members: Map<string, string>; // nameKey → display name
  barred: Map<string, string>; // nameKey → display name
  keys: Map<number, string>;
  currentKeyId: number;
  log: MessageLog;
  /** The room's own cap on kept messages (undefined: the server's). */
  retention?: number;
}

export class MemoryRoomStore implements RoomStore {
  private readonly rooms = new Map<string, RoomState>();
  private readonly idsByName = new Map<string, string>();
  /** Confusable key of a room name (domain/confusables.ts) → id of the room that holds it. */
  private readonly idsBySkeleton = new Map<string, string>();
  private readonly roomsByUser = new Map<string, Set<string>>();
  private readonly ownedByUser = new Map<string, Set<string>>();
  /** Room id → when it became empty (ms); insertion order is not time order, so idleRooms sorts. */
  private readonly emptySince = new Map<string, number>();
  /** The lobby's indexes: name keys of the rooms in order, and the rooms by member count. */
  readonly byName = new SortedList<string>(compareNameKeys);
  readonly byActivity = new SortedList<{ id: string; memberCount: number }>(byActivity);

  constructor(private readonly revision: Revision) {}

  async create(room: RoomRecord, firstKey: RoomKey, maxOwned: number): Promise<RoomCreation> {
    const key = nameKey(room.name);
    if (this.idsByName.has(key) || this.rooms.has(room.id)) return { created: false, reason: "name_taken" };
    const look = confusableKey(room.name);
    const lookalike = this.idsBySkeleton.get(look);
    if (lookalike !== undefined) throw new NameConfusableError("room", this.rooms.get(lookalike)?.record.name ?? "another room");
    const owned = this.ownedByUser.get(nameKey(room.owner)) ?? new Set<string>();
    if (maxOwned > 0 && owned.size >= maxOwned) return { created: false, reason: "quota" };
    this.ownedByUser.set(nameKey(room.owner), owned.add(room.id));
    this.emptySince.set(room.id, room.createdAt);
    this.idsByName.set(key, room.id);
    this.idsBySkeleton.set(look, room.id);
    this.byName.add(key);
    this.byActivity.add({ id: room.id, memberCount: 0 });
    this.rooms.set(room.id, {
      record: { ...room },
      members: new Map(),
      barred: new Map(),
      keys: new Map([[firstKey.id, firstKey.key]]),
      currentKeyId: firstKey.id,
      log: new MessageLog(),
    });
    return { created: true, rev: this.revision.next() };
  }

  async get(roomId: string): Promise<RoomRecord | null> {
    const state = this.rooms.get(roomId);
    return state ? { ...state.record } : null;
  }

  async summary(roomId: string): Promise<RoomSummary | null> {
    const state = this.rooms.get(roomId);
    return state ? summarize(state) : null;
  }

  async summaries(roomIds: string[]): Promise<RoomSummary[]> {
    return roomIds.flatMap((id) => {
      const state = this.rooms.get(id);
      return state ? [summarize(state)] : [];
    });
  }

  /** The id of the room listed under this name key. */
  idByName(key: string): string | undefined {
    return this.idsByName.get(key);
  }

  get count(): number {
    return this.rooms.size;
  }

  async delete(roomId: string, idleBefore?: number): Promise<{ members: string[]; rev: number } | null> {
    const state = this.rooms.get(roomId);
    if (!state) {
      this.emptySince.delete(roomId);
      return null;
    }
    if (idleBefore !== undefined && state.members.size > 0) this.emptySince.delete(roomId);
    if (idleBefore !== undefined && !((this.emptySince.get(roomId) ?? Infinity) < idleBefore)) return null;
    this.rooms.delete(roomId);
    this.emptySince.delete(roomId);
    this.ownedByUser.get(nameKey(state.record.owner))?.delete(roomId);
    this.idsByName.delete(nameKey(state.record.name));
    this.byName.delete(nameKey(state.record.name));
    this.byActivity.delete({ id: roomId, memberCount: state.members.size });
    const look = confusableKey(state.record.name);
    if (this.idsBySkeleton.get(look) === roomId) this.idsBySkeleton.delete(look);
    for (const member of state.members.keys()) this.roomsByUser.get(member)?.delete(roomId);
    return { members: [...state.members.values()], rev: this.revision.next() };
  }

  async admit(roomId: string, username: string, verifiedHash: string | null): Promise<Admission> {
    const state = this.rooms.get(roomId);
    if (!state) return { changed: false, memberCount: 0, rev: 0, username };
    const key = nameKey(username);
    const existing = state.members.get(key);
    if (existing) return { changed: false, memberCount: state.members.size, rev: 0, username: existing };
    if (state.barred.has(key)) return { refused: "barred" };
    if (state.record.passwordHash !== null && state.record.passwordHash !== verifiedHash) return { refused: "password" };
    this.byActivity.delete({ id: roomId, memberCount: state.members.size });
    state.members.set(key, username);
    this.byActivity.add({ id: roomId, memberCount: state.members.size });
    this.emptySince.delete(roomId);
    let rooms = this.roomsByUser.get(key);
    if (!rooms) this.roomsByUser.set(key, (rooms = new Set()));
    rooms.add(roomId);
    return { changed: true, memberCount: state.members.size, rev: this.revision.next(), username };
  }

  async removeMember(roomId: string, username: string, now: number): Promise<MembershipChange> {
    const key = nameKey(username);
    this.roomsByUser.get(key)?.delete(roomId);
    const state = this.rooms.get(roomId);
    const stored = state?.members.get(key);
    if (!state || stored === undefined) return { changed: false, memberCount: state?.members.size ?? 0, rev: 0, username };
    this.byActivity.delete({ id: roomId, memberCount: state.members.size });
    state.members.delete(key);
    this.byActivity.add({ id: roomId, memberCount: state.members.size });
    if (state.members.size === 0) this.emptySince.set(roomId, now);
    return { changed: true, memberCount: state.members.size, rev: this.revision.next(), username: stored };
  }

  async bar(roomId: string, username: string, now: number): Promise<Barring> {
    const state = this.rooms.get(roomId);
    if (!state) return null;
    const key = nameKey(username);
    if (!state.barred.has(key) && state.barred.size >= MAX_BARRED_PER_ROOM) return { refused: "full" };
    state.barred.set(key, state.members.get(key) ?? username);
    return this.removeMember(roomId, username, now);
  }

  async unbar(roomId: string, username: string): Promise<boolean> {
    return this.rooms.get(roomId)?.barred.delete(nameKey(username)) ?? false;
  }

  async barred(roomId: string): Promise<string[]> {
    return [...(this.rooms.get(roomId)?.barred.values() ?? [])];
  }

  async idleRooms(before: number, limit: number): Promise<string[]> {
    return [...this.emptySince]
      .filter(([, since]) => since < before)
      .sort((a, b) => a[1] - b[1])
      .slice(0, limit)
      .map(([id]) => id);
  }

  async members(roomId: string): Promise<string[]> {
    return [...(this.rooms.get(roomId)?.members.values() ?? [])];
  }

  async isMember(roomId: string, username: string): Promise<boolean> {
    return this.rooms.get(roomId)?.members.has(nameKey(username)) ?? false;
  }

  async ownedBy(username: string): Promise<string[]> {
    return [...(this.ownedByUser.get(nameKey(username)) ?? [])];
  }

  async roomsOf(username: string, limit?: number): Promise<string[]> {
    return [...(this.roomsByUser.get(nameKey(username)) ?? [])].slice(0, limit);
  }

  async currentKey(roomId: string): Promise<RoomKey | null> {
    const state = this.rooms.get(roomId);
    const key = state?.keys.get(state.currentKeyId);
    return state && key ? { id: state.currentKeyId, key } : null;
  }

  async rotateKey(roomId: string, key: string): Promise<RoomKey> {
    const state = this.rooms.get(roomId);
    if (!state) throw new Error(`rotateKey: no room ${roomId}`);
    state.currentKeyId += 1;
    state.keys.set(state.currentKeyId, key);
    return { id: state.currentKeyId, key };
  }

  async acceptMessage(message: IncomingMessage, cap: HistoryCap): Promise<RoomAcceptResult | null> {
    const state = this.rooms.get(message.roomId);
    if (!state) return null;
    const { from, ts, msg, clientId } = message;
    if (!state.members.has(nameKey(from))) return { notMember: true };
    const earlier = state.log.repeat(from, clientId);
    if (earlier) return earlier;
    if (message.keyId !== state.currentKeyId) return { staleKey: state.currentKeyId };
    const maxMessages = Math.min(cap.maxMessages, state.retention ?? cap.maxMessages);
    return state.log.append({ from, ts, msg }, { ...cap, maxMessages }, clientId);
  }

  async changeMessage(change: MessageChange, cap: Pick<HistoryCap, "maxAgeMs">): Promise<MessageChangeResult> {
    const state = this.rooms.get(change.roomId);
    if (!state) return { refused: "room" };
    if (!state.members.has(nameKey(change.by))) return { refused: "not_member" };
    const { edit } = change;
    const amendment = edit && (edit.keyId === state.currentKeyId ? { msg: edit.msg } : { staleKey: state.currentKeyId });
    return state.log.amend(change.seq, change.by, change.at, oldestKept(cap, change.at), amendment);
  }

  async history(roomId: string, query: HistoryQuery): Promise<RoomMessage[]> {
    return (this.rooms.get(roomId)?.log.read(query) ?? []).map((entry) => ({ roomId, ...entry }));
  }

  async clearHistory(roomId: string): Promise<void> {
    this.rooms.get(roomId)?.log.clear();
  }

  async setRetention(roomId: string, maxMessages: number): Promise<void> {
    const state = this.rooms.get(roomId);
    if (!state) return;
    state.retention = maxMessages;
    state.log.trim(maxMessages);
  }

  async keysById(roomId: string, ids: number[]): Promise<RoomKey[]> {
    return pickKeys(this.rooms.get(roomId)?.keys, ids);
  }
}

function summarize(state: RoomState): RoomSummary {
  const { id, name, owner, passwordHash, createdAt } = state.record;
  return { id, name, owner, isPrivate: passwordHash !== null, memberCount: state.members.size, createdAt };
}
