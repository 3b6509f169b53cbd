import { conversationId, type ConversationSummary, type RoomKey, type Whisper } from "@sala/protocol";
import {
  nameKey,
  type AcceptResult,
  type ConversationStore,
  type HistoryCap,
  type HistoryQuery,
  type IncomingWhisper,
} from "../types.js";
import { MessageLog, pickKeys } from "./message-log.js";

interface ConversationState {
  id: string;
  /** Case-folded name → display name, for both participants. */
  names: Map<string, string>;
  keys: Map<number, string>;
  currentKeyId: number;
  log: MessageLog;
  lastTs: number;
  /** Case-folded name → the last seq that participant read (or sent). */
  readSeq: Map<string, number>;
}

/** In-process conversations (embedded mode, unit tests); same rules as the Redis store. */
export class MemoryConversationStore implements ConversationStore {
  private readonly conversations = new Map<string, ConversationState>();
  /** Case-folded name → ids of the conversations in that user's list. */
  private readonly listed = new Map<string, Set<string>>();

  async open(me: string, peer: string, key: string): Promise<{ conversation: ConversationSummary; key: RoomKey }> {
    const id = conversationId(me, peer);
    let state = this.conversations.get(id);
    if (!state) {
      state = {
        id,
        names: new Map([[nameKey(me), me], [nameKey(peer), peer]]),
        keys: new Map([[1, key]]),
        currentKeyId: 1,
        log: new MessageLog(),
        lastTs: 0,
        readSeq: new Map(),
      };
      this.conversations.set(id, state);
    }
    this.listOf(me).add(id);
    return { conversation: summarize(state, me), key: { id: state.currentKeyId, key: state.keys.get(state.currentKeyId)! } };
  }

  async delete(id: string): Promise<void> {
    const state = this.conversations.get(id);
    if (!state) return;
    this.conversations.delete(id);
    for (const name of state.names.keys()) this.listed.get(name)?.delete(id);
  }

  async list(me: string, limit: number): Promise<ConversationSummary[]> {
    return [...this.listOf(me)]
      .map((id) => summarize(this.conversations.get(id)!, me))
      .sort((a, b) => b.lastTs - a.lastTs)
      .slice(0, limit);
  }

  async partners(me: string, limit: number): Promise<string[]> {
    return (await this.list(me, limit)).map((conversation) => nameKey(conversation.with));
  }

  async accept(whisper: IncomingWhisper, cap: HistoryCap): Promise<AcceptResult | null> {
    const state = this.conversations.get(conversationId(whisper.from, whisper.to));
    if (!state) return null;
    const { from, ts, msg, clientId } = whisper;
    const earlier = state.log.repeat(from, clientId);
    if (earlier) return earlier;
    if (whisper.keyId !== state.currentKeyId) return { staleKey: state.currentKeyId };
    const accepted = state.log.append({ from, ts, msg }, cap, clientId);
    state.lastTs = ts;
    state.readSeq.set(nameKey(from), accepted.seq);
    for (const name of state.names.keys()) this.listOf(name).add(state.id);
    return accepted;
  }

  async history(me: string, peer: string, query: HistoryQuery): Promise<Whisper[]> {
    const state = this.conversations.get(conversationId(me, peer));
    if (!state) return [];
    return state.log.read(query).map((entry) => ({
      conversationId: state.id,
      ...entry,
      to: otherName(state, entry.from),
    }));
  }

  async markRead(me: string, peer: string, seq: number): Promise<ConversationSummary | null> {
    const state = this.conversations.get(conversationId(me, peer));
    if (!state) return null;
    const read = Math.max(state.readSeq.get(nameKey(me)) ?? 0, Math.min(seq, state.log.seq));
    state.readSeq.set(nameKey(me), read);
    return summarize(state, me);
  }

  async keysById(id: string, ids: number[]): Promise<RoomKey[]> {
    return pickKeys(this.conversations.get(id)?.keys, ids);
  }

  private listOf(name: string): Set<string> {
    const key = nameKey(name);
    let ids = this.listed.get(key);
    if (!ids) this.listed.set(key, (ids = new Set()));
    return ids;
  }
}

function otherName(state: ConversationState, name: string): string {
  const mine = nameKey(name);
  for (const [key, display] of state.names) if (key !== mine) return display;
  return name;
}

function summarize(state: ConversationState, me: string): ConversationSummary {
  const lastSeq = state.log.seq;
  return {
    id: state.id,
    with: otherName(state, me),
    unread: lastSeq - (state.readSeq.get(nameKey(me)) ?? 0),
    lastSeq,
    lastTs: state.lastTs,
  };
}
