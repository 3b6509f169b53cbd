import { ErrorCode, parseEnvelope } from "@sala/protocol";
import type { TextPayload } from "@sala/protocol/schemas";
import { AppError } from "../../errors.js";
import type { HistoryCap, MessageChange, RoomStore } from "../../stores/types.js";
import { keysFor } from "../epoch-keys.js";
import { pageQuery } from "../history-page.js";
import { readAsMember } from "../member-read.js";
import { defineEvent, type EventTable } from "../event-gate.js";
import { SocketRooms, type SalaSocket } from "../types.js";

export interface MessageDeps {
  rooms: RoomStore;
  typingThrottleMs: number;
  /** HISTORY_MAX and HISTORY_MAX_AGE_SEC. */
  historyCap: HistoryCap;
  onAccepted?: () => void;
}

const notMember = () => new AppError(ErrorCode.NOT_MEMBER, "Join the room first");

/**
 * Runs a request about a room the socket joined (so it hears the room's traffic). Joining is not
 * what authorizes: membership is the store's, checked by each handler in the step that reads or
 * writes; when the store says the user is no longer a member (kicked a moment ago, and the kick's
 * socketsLeave has not reached this socket), the socket leaves the room here too.
 */
async function inJoinedRoom<T>(socket: SalaSocket, roomId: string, run: () => Promise<T>): Promise<T> {
  if (!socket.rooms.has(SocketRooms.room(roomId))) throw notMember();
  try {
    return await run();
  } catch (error) {
    if (error instanceof AppError && error.code === ErrorCode.NOT_MEMBER) socket.leave(SocketRooms.room(roomId));
    throw error;
  }
}

/** What a refused edit or delete answers. */
const refusals = {
  room: () => new AppError(ErrorCode.ROOM_NOT_FOUND, "No such room"),
  not_member: notMember,
  not_found: () => new AppError(ErrorCode.NOT_FOUND, "No such message (deleted, cleared or past the history's limits)"),
  forbidden: () => new AppError(ErrorCode.FORBIDDEN, "Only its author can change a message"),
} as const;

/** Room messages (`text`), their edits and deletes, their history and typing signals (whispers: conversations.ts). */
export function messageHandlers(deps: MessageDeps): Pick<EventTable, "text" | "edit_message" | "delete_message" | "history" | "typing"> {
  /**
   * Relays a ciphertext envelope to the room on every node. The server never decrypts: it checks
   * the envelope's shape (schema) and that its key id is the room's current key, numbers it, and
   * acks once the message is accepted; the sender measures its round trip from that ack.
   */
  async function acceptText(socket: SalaSocket, { roomId, msg, id }: TextPayload) {
    const from = socket.data.username;
    const keyId = parseEnvelope(msg)?.keyId ?? 0;
    const accepted = await deps.rooms.acceptMessage({ roomId, keyId, from, ts: Date.now(), msg, clientId: id }, deps.historyCap);
    if (!accepted) throw new AppError(ErrorCode.ROOM_NOT_FOUND, "No such room");
    // The store decides, in the step that numbers the message: the socket may still be in the
    // Socket.IO room for a moment after a kick.
    if ("notMember" in accepted) throw notMember();
    if ("staleKey" in accepted) {
      throw new AppError(ErrorCode.STALE_KEY, `The room's key is now ${accepted.staleKey}; re-encrypt with it`);
    }
    if (!accepted.duplicate) deps.onAccepted?.();
    // In a cluster the store has published it to every node's sockets in the room already. A
    // repeat is delivered when the store says so (REDIS_WAIT_REPLICAS: the first attempt may have
    // been refused before its delivery); receivers ignore a seq they have.
    if ((!accepted.duplicate || accepted.deliver) && !accepted.announced) {
      socket.nsp.to(SocketRooms.room(roomId)).emit("text", { roomId, seq: accepted.seq, from, ts: accepted.ts, msg });
    }
    return { seq: accepted.seq, ts: accepted.ts };
  }

  /**
   * The author's edit or delete of a stored message. Who may is the store's decision, in the step
   * that changes it (author, member, message still stored, current key): not the socket's rooms.
   * An edited envelope must be under the room's current key, as a new message must: after a
   * rotation (a kick), the old key may be in the hands of someone who must not read what is
   * written since, and an edit is written since. → the edit's time.
   */
  async function changeMessage(socket: SalaSocket, change: Omit<MessageChange, "by" | "at">): Promise<number> {
    const result = await deps.rooms.changeMessage({ ...change, by: socket.data.username, at: Date.now() }, deps.historyCap);
    if ("refused" in result) throw refusals[result.refused]();
    if ("staleKey" in result) throw new AppError(ErrorCode.STALE_KEY, `The room's key is now ${result.staleKey}; re-encrypt with it`);
    return result.editedAt;
  }

  return {
    text: defineEvent("text", (socket, payload) => inJoinedRoom(socket, payload.roomId, () => acceptText(socket, payload))),

    /**
     * Sent on the room's channel like `text` (the sharded adapter publishes to the room's channel,
     * after the message itself): every node's sockets in the room get it; receivers keep the edit
     * with the largest editedAt, so two edits racing from two tabs end the same everywhere.
     */
    edit_message: defineEvent("edit_message", (socket, { roomId, seq, msg }) =>
      inJoinedRoom(socket, roomId, async () => {
        const editedAt = await changeMessage(socket, { roomId, seq, edit: { keyId: parseEnvelope(msg)?.keyId ?? 0, msg } });
        socket.nsp.to(SocketRooms.room(roomId)).emit("message_edited", { roomId, seq, msg, editedAt });
        return { editedAt };
      }),
    ),

    /** A delete is final: a later edit or delete of the seq is NOT_FOUND. */
    delete_message: defineEvent("delete_message", (socket, { roomId, seq }) =>
      inJoinedRoom(socket, roomId, async () => {
        await changeMessage(socket, { roomId, seq });
        socket.nsp.to(SocketRooms.room(roomId)).emit("message_deleted", { roomId, seq });
        return {};
      }),
    ),

    /** Stored messages of a room the socket is in: backfill after a reconnect, or paging back. */
    history: defineEvent("history", (socket, { roomId, ...paging }) =>
      inJoinedRoom(socket, roomId, () =>
        readAsMember(deps.rooms, roomId, socket.data.username, async () => {
          const messages = await deps.rooms.history(roomId, pageQuery(paging, deps.historyCap));
          return { messages, keys: await keysFor(deps.rooms, roomId, messages) };
        }),
      ),
    ),

    typing: defineEvent("typing",
      (socket, { roomId }) =>
        inJoinedRoom(socket, roomId, async () => {
          const now = Date.now();
          const typingAt = (socket.data.typingAt ??= new Map());
          if (now - (typingAt.get(roomId) ?? 0) >= deps.typingThrottleMs) {
            typingAt.set(roomId, now);
            // Asked of the store only for signals actually relayed (one per throttle window).
            if (!(await deps.rooms.isMember(roomId, socket.data.username))) throw notMember();
            socket.to(SocketRooms.room(roomId)).emit("typing", { roomId, username: socket.data.username });
          }
          return {};
        }),
    ),
  };
}
