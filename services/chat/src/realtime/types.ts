import type { Cookie } from "express-session";
import type { Server, Socket } from "socket.io";
import type { ClientToServerEvents, InterServerEvents, ServerToClientEvents } from "@sala/protocol";
import { nameKey } from "../stores/types.js";

export interface SocketData {
  /** Display name of the authenticated user. */
  username: string;
  /** The account has the admin role (user store, granted with `npm run admin`): may watch the cluster's health. */
  isAdmin: boolean;
  /**
   * Per room: when this socket last relayed a typing signal (ms). Made at the socket's first
   * typing signal: most sockets never send one, and an empty Map costs about 180 bytes.
   */
  typingAt?: Map<string, number>;
  /**
   * What the session keeper needs of the handshake's session, kept here because the handshake
   * request itself is released once the socket is connected (see socket-server).
   */
  session: { id: string; loginAt: number; cookie: Cookie };
}

export type SalaServer = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
export type SalaSocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

/** This node's own sockets in a Socket.IO room (none from other nodes: no adapter round trip). */
export function localSocketsIn(io: SalaServer, room: string): SalaSocket[] {
  const namespace = io.of("/");
  return [...(namespace.adapter.rooms.get(room) ?? [])].flatMap((id) => namespace.sockets.get(id) ?? []);
}

/** Socket.IO room names (cluster-wide through the adapter). */
export const SocketRooms = {
  /** Sockets that follow lobby changes: every authenticated socket. */
  lobby: "lobby",
  /** Every socket of one user, on any node: whispers, kicks. */
  user: (username: string) => `user:${nameKey(username)}`,
  /** Sockets following one user's presence: they show them on a lobby page, or talk with them. */
  presenceOf: (username: string) => `presence:${nameKey(username)}`,
  /** Sockets following one room's lobby entry (its member count, its removal): they show it on a lobby page. */
  lobbyRoom: (roomId: string) => `lobby-room:${roomId}`,
  /** Admin sockets watching every node's health samples. */
  metricsViewers: "admin:metrics",
  /**
   * Sockets that joined a chat room: its messages, keys and notices. The name is also the room's
   * adapter channel (see room-announcer.ts), and carries the room's hash tag `{room:<id>}`, so that
   * on a Redis Cluster the channel lives on the shard that holds the room's keys (the accepting
   * script publishes on it). Changing it splits a cluster in a rolling upgrade, old and new nodes
   * listening on different channels (it changed with the Redis Cluster support: CHANGELOG.md).
   */
  room: (roomId: string) => `{room:${roomId}}`,
  /** Whether a Socket.IO room name is a chat room's. */
  isRoom: (name: string) => name.startsWith("{room:"),
  /** The room id of a chat room's Socket.IO room name. */
  roomId: (name: string) => name.slice("{room:".length, -1),
} as const;
