import { ErrorCode, parseEnvelope, type RoomKey, type RoomMessage } from "@sala/protocol";
import { HistoryPayload, PrivateMessagePayload, RoomRefPayload, TextPayload } from "@sala/protocol/schemas";
import { AppError } from "../../errors.js";
import { nameKey, type PresenceStore, type RoomStore, type UserStore } from "../../stores/types.js";
import { defineEvent, type EventTable } from "../event-gate.js";
import { SocketRooms, type SalaSocket } from "../types.js";

export interface MessageDeps {
  rooms: RoomStore;
  users: UserStore;
  presence: PresenceStore;
  typingThrottleMs: number;
  historyMax: number;
  onAccepted?: () => void;
}

/** The keys of the epochs these messages were encrypted in. */
export async function keysFor(rooms: RoomStore, roomId: string, messages: RoomMessage[]): Promise<RoomKey[]> {
  const ids = messages.map((message) => parseEnvelope(message.msg)?.keyId ?? 0).filter((id) => id > 0);
  return rooms.keysById(roomId, ids);
}

function requireJoined(socket: SalaSocket, roomId: string): void {
  if (!socket.rooms.has(SocketRooms.room(roomId))) {
    throw new AppError(ErrorCode.NOT_MEMBER, "Join the room first");
  }
}

/** Room messages (`text`), whispers (`private_message`) and typing signals. */
export function messageHandlers(deps: MessageDeps): EventTable {
  return {
    /**
     * Relays a ciphertext envelope to the room on every node. The server never decrypts: it checks
     * the envelope's shape (schema) and that its key id is the room's current key, numbers it, and
     * acks once the message is accepted; the sender measures its round trip from that ack.
     */
    text: defineEvent(TextPayload, async (socket, { roomId, msg, id }) => {
      requireJoined(socket, roomId);
      const from = socket.data.username;
      const keyId = parseEnvelope(msg)?.keyId ?? 0;
      const accepted = await deps.rooms.acceptMessage({ roomId, keyId, from, ts: Date.now(), msg, clientId: id }, deps.historyMax);
      if (!accepted) throw new AppError(ErrorCode.ROOM_NOT_FOUND, "No such room");
      if ("staleKey" in accepted) {
        throw new AppError(ErrorCode.STALE_KEY, `The room's key is now ${accepted.staleKey}; re-encrypt with it`);
      }
      if (!accepted.duplicate) {
        deps.onAccepted?.();
        socket.nsp.to(SocketRooms.room(roomId)).emit("text", { roomId, seq: accepted.seq, from, ts: accepted.ts, msg });
      }
      return { seq: accepted.seq, ts: accepted.ts };
    }),

    /** Stored messages of a room the socket is in: backfill after a reconnect, or paging back. */
    history: defineEvent(HistoryPayload, async (socket, { roomId, afterSeq, beforeSeq, limit }) => {
      requireJoined(socket, roomId);
      if (afterSeq !== undefined && beforeSeq !== undefined) {
        throw new AppError(ErrorCode.BAD_REQUEST, "Give afterSeq or beforeSeq, not both");
      }
      const messages = await deps.rooms.history(roomId, { afterSeq, beforeSeq, limit: limit ?? 100 });
      return { messages, keys: await keysFor(deps.rooms, roomId, messages) };
    }),

    private_message: defineEvent(PrivateMessagePayload, async (socket, { to, msg }) => {
      const from = socket.data.username;
      if (nameKey(to) === nameKey(from)) throw new AppError(ErrorCode.SELF_WHISPER, "You cannot whisper to yourself");
      const [target, online] = await Promise.all([deps.users.get(to), deps.presence.isOnline(to)]);
      if (!target) throw new AppError(ErrorCode.USER_NOT_FOUND, `No user named ${to}`);
      if (!online) throw new AppError(ErrorCode.USER_OFFLINE, `${target.username} is offline`);
      const whisper = { from, to: target.username, ts: Date.now(), msg };
      socket.nsp.to(SocketRooms.user(target.username)).emit("private_message", whisper);
      // The sender's other tabs see what this one sent.
      socket.to(SocketRooms.user(from)).emit("private_message", whisper);
      return { ts: whisper.ts, to: target.username };
    }),

    typing: defineEvent(
      RoomRefPayload,
      async (socket, { roomId }) => {
        requireJoined(socket, roomId);
        const now = Date.now();
        if (now - (socket.data.typingAt.get(roomId) ?? 0) >= deps.typingThrottleMs) {
          socket.data.typingAt.set(roomId, now);
          socket.to(SocketRooms.room(roomId)).emit("typing", { roomId, username: socket.data.username });
        }
        return {};
      },
      { ackOptional: true },
    ),
  };
}
