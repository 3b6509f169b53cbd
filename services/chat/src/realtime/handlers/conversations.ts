import { conversationId, ErrorCode, parseEnvelope, type Whisper } from "@sala/protocol";
import { AppError } from "../../errors.js";
import { nameKey, oldestKept, type ConversationStore, type HistoryCap, type UserStore } from "../../stores/types.js";
import { keysFor, mintKey } from "../epoch-keys.js";
import { pageQuery } from "../history-page.js";
import { defineEvent, type EventTable } from "../event-gate.js";
import { SocketRooms, type SalaSocket } from "../types.js";

export interface ConversationDeps {
  conversations: ConversationStore;
  users: UserStore;
  /** HISTORY_MAX and HISTORY_MAX_AGE_SEC apply to conversations as to rooms. */
  historyCap: HistoryCap;
  /** Latest whispers sent with open_conversation (JOIN_HISTORY). */
  openHistory: number;
  /** The lobby sends these sockets the partner's presence from now on (lobby-views.ts). */
  followPartner(socket: SalaSocket, partner: string): void;
}

/** Conversations listed for the panel (most recent first). */
const LIST_LIMIT = 200;
/** Whisper peers' display names remembered per node. */
const DISPLAY_NAMES_KEPT = 10_000;

/**
 * Persisted, encrypted 1-to-1 conversations and their whispers (`private_message`). A socket can
 * only ever address the conversation between its own user and another one: the conversation id
 * is made from both names (conversationId), so nobody can open, read or write someone else's
 * conversation, and its key goes only to its two participants. The server never decrypts; it
 * checks an envelope's shape and key id, numbers and stores it, then delivers it.
 */
export function conversationHandlers(deps: ConversationDeps): Pick<EventTable, "open_conversation" | "conversations" | "conversation_history" | "private_message" | "mark_read"> {
  const { conversations } = deps;

  // Display names by case-folded name. Accounts are never renamed or deleted, so a name found
  // once stays right: a whisper then costs no user lookup in Redis. Bounded, cleared when full.
  const displayNames = new Map<string, string>();

  /** The other participant's display name (USER_NOT_FOUND, SELF_WHISPER). */
  async function peerOf(socket: SalaSocket, name: string): Promise<string> {
    const key = nameKey(name);
    if (key === nameKey(socket.data.username)) {
      throw new AppError(ErrorCode.SELF_WHISPER, "You cannot whisper to yourself");
    }
    const known = displayNames.get(key);
    if (known) return known;
    const user = await deps.users.get(name);
    if (!user) throw new AppError(ErrorCode.USER_NOT_FOUND, `No user named ${name}`);
    if (displayNames.size >= DISPLAY_NAMES_KEPT) displayNames.clear();
    displayNames.set(key, user.username);
    return user.username;
  }

  const notBefore = () => oldestKept(deps.historyCap, Date.now());

  return {
    open_conversation: defineEvent("open_conversation", async (socket, { with: name }) => {
      const me = socket.data.username;
      const peer = await peerOf(socket, name);
      const { conversation, key } = await conversations.open(me, peer, mintKey());
      deps.followPartner(socket, peer);
      const history: Whisper[] =
        deps.openHistory > 0 ? await conversations.history(me, peer, { limit: deps.openHistory, notBefore: notBefore() }) : [];
      const older = (await keysFor(conversations, conversation.id, history)).filter((k) => k.id !== key.id);
      return { conversation, key, keys: [...older, key], history };
    }),

    conversations: defineEvent("conversations", async (socket) => ({
      conversations: await conversations.list(socket.data.username, LIST_LIMIT),
    })),

    conversation_history: defineEvent("conversation_history", async (socket, { with: name, ...paging }) => {
      const query = pageQuery(paging, deps.historyCap);
      const me = socket.data.username;
      const peer = await peerOf(socket, name);
      const messages = await conversations.history(me, peer, query);
      return { messages, keys: await keysFor(conversations, conversationId(me, peer), messages) };
    }),

    /**
     * A whisper: accepted under the conversation's current key, numbered and stored, then sent to
     * every socket of both participants on every node (the sender's socket gets it too, like a
     * room echo; clients drop the repeat by seq). The recipient need not be online: they read
     * it from the conversation later.
     */
    private_message: defineEvent("private_message", async (socket, { to, msg, id }) => {
      const from = socket.data.username;
      const peer = await peerOf(socket, to);
      const keyId = parseEnvelope(msg)?.keyId ?? 0;
      const accepted = await conversations.accept({ from, to: peer, keyId, ts: Date.now(), msg, clientId: id }, deps.historyCap);
      if (!accepted) throw new AppError(ErrorCode.BAD_REQUEST, "Open the conversation first (open_conversation)");
      if ("staleKey" in accepted) {
        throw new AppError(ErrorCode.STALE_KEY, `The conversation's key is now ${accepted.staleKey}; re-encrypt with it`);
      }
      const whisper: Whisper = { conversationId: conversationId(from, peer), seq: accepted.seq, from, to: peer, ts: accepted.ts, msg };
      // A repeat is delivered when the store says so (see AcceptedMessage.deliver).
      if (!accepted.duplicate || accepted.deliver) socket.nsp.to([SocketRooms.user(peer), SocketRooms.user(from)]).emit("private_message", whisper);
      deps.followPartner(socket, peer);
      // The conversation's first whisper: every socket of the peer, on any node, follows the sender's presence.
      if (accepted.seq === 1 && !accepted.duplicate) socket.nsp.in(SocketRooms.user(peer)).socketsJoin(SocketRooms.presenceOf(from));
      return { ts: accepted.ts, to: peer, seq: accepted.seq, conversationId: whisper.conversationId };
    }),

    /** Read up to `seq`: the user's other sockets (tabs, devices) clear their unread count too. */
    mark_read: defineEvent("mark_read", async (socket, { with: name, seq }) => {
      const me = socket.data.username;
      const peer = await peerOf(socket, name);
      const conversation = await conversations.markRead(me, peer, seq);
      if (!conversation) throw new AppError(ErrorCode.BAD_REQUEST, "No conversation with that user yet");
      const read = { conversationId: conversation.id, with: peer, seq: conversation.lastSeq - conversation.unread, unread: conversation.unread };
      socket.to(SocketRooms.user(me)).emit("conversation_read", read);
      return { conversation };
    }),
  };
}
