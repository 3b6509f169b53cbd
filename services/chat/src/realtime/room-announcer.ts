import { MessageType, type ClusterMessage } from "socket.io-adapter";
import type { RoomMessage } from "@sala/protocol";
import type { Announcer } from "../stores/types.js";
import { SocketRooms } from "./types.js";

/** The namespace Sala's sockets live in. */
const NAMESPACE = "/";
/** Socket.IO's packet type of an event (socket.io-parser's PacketType.EVENT). */
const EVENT_PACKET = 2;
/**
 * The sender id of announced messages. The adapter ignores messages that carry its own node's id
 * (it delivered those itself); no node has this one, so every node, the sender's included,
 * delivers the message.
 */
export const ANNOUNCER_UID = "sala-accept-script";
/** Stands in for the sequence number, which only the accepting script knows. */
const SEQ_PLACEHOLDER = -1;
const SEQ_KEY = '"seq":';

/** The channel prefix of the sharded Socket.IO adapter for a Redis key prefix. */
export function adapterChannelPrefix(redisPrefix: string): string {
  return `${redisPrefix}:sio`;
}

/**
 * Builds what the Redis store publishes when it accepts a room message: a broadcast of the `text`
 * event to the room, in the sharded adapter's own format (JSON, as the adapter encodes messages
 * without binary data), on the room's channel (`<prefix>#<namespace>#<room>#`, which every node
 * with a socket in the room subscribes to). A node's adapter takes it for a broadcast from another
 * node and writes it to its sockets in the room.
 *
 * So the accepting script numbers, stores and publishes a message in one Redis call, and every
 * node receives a room's messages in sequence order (a script runs atomically). The frame is split
 * at the sequence number: the script publishes `head .. seq .. tail`.
 */
export function roomAnnouncer(redisPrefix: string): Announcer {
  const channelPrefix = `${adapterChannelPrefix(redisPrefix)}#${NAMESPACE}#`;
  return ({ roomId, from, ts, msg }) => {
    const room = SocketRooms.room(roomId);
    // seq before the fields users write: nothing a user sends can appear before it (JSON escapes
    // their quotes, so their text can never hold an unescaped `"seq":`).
    const payload: RoomMessage = { roomId, seq: SEQ_PLACEHOLDER, from, ts, msg };
    const broadcast: ClusterMessage = {
      uid: ANNOUNCER_UID,
      nsp: NAMESPACE,
      type: MessageType.BROADCAST,
      data: { opts: { rooms: [room], except: [], flags: {} }, packet: { type: EVENT_PACKET, data: ["text", payload], nsp: NAMESPACE } },
    };
    const frame = JSON.stringify(broadcast);
    const at = frame.indexOf(`${SEQ_KEY}${SEQ_PLACEHOLDER}`) + SEQ_KEY.length;
    return { channel: `${channelPrefix}${room}#`, head: frame.slice(0, at), tail: frame.slice(at + String(SEQ_PLACEHOLDER).length) };
  };
}
