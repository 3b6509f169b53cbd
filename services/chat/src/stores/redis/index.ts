import type { RedisClient } from "../../redis.js";
import type { Announcer, Stores } from "../types.js";
import { RedisAuditStore } from "./audit.js";
import { RedisConversationStore } from "./conversations.js";
import type { RedisKeys } from "./keys.js";
import { RedisLobbyStore } from "./lobby.js";
import { RedisPresenceStore } from "./presence.js";
import type { ReplicaWait } from "./replica-wait.js";
import { RedisRoomStore } from "./rooms.js";
import { RedisSampleStore } from "./samples.js";
import { RedisSocketCountStore } from "./socket-counts.js";
import { RedisSessionIndexStore } from "./session-index.js";
import { RedisUserStore } from "./users.js";

export interface RedisStoreOptions {
  /** What the room store publishes with each message it accepts (none: the caller broadcasts). */
  announceRoomMessage?: Announcer;
  /** Seconds a sender's message id is remembered (MESSAGE_ID_WINDOW_SEC; its default is config's). */
  messageIdWindowSec: number;
  /**
   * Replicas that must hold a room message or whisper before it is acknowledged and delivered
   * (REDIS_WAIT_REPLICAS and its timeout; absent: none, and the room store announces as it accepts).
   */
  replicaWait?: ReplicaWait;
}

/** Stores shared by every node of a cluster, on one Redis connection. */
export function createRedisStores(redis: RedisClient, keys: RedisKeys, options: RedisStoreOptions): Stores {
  const { announceRoomMessage = null, messageIdWindowSec } = options;
  const replicaWait = options.replicaWait && options.replicaWait.replicas > 0 ? options.replicaWait : null;
  const rooms = new RedisRoomStore(redis, keys, announceRoomMessage, messageIdWindowSec, replicaWait);
  const presence = new RedisPresenceStore(redis, keys);
  return {
    users: new RedisUserStore(redis, keys),
    sessionIndex: new RedisSessionIndexStore(redis, keys),
    samples: new RedisSampleStore(redis, keys),
    socketCounts: new RedisSocketCountStore(redis, keys),
    audit: new RedisAuditStore(redis, keys),
    rooms,
    conversations: new RedisConversationStore(redis, keys, messageIdWindowSec, replicaWait),
    presence,
    lobby: new RedisLobbyStore(redis, keys, rooms),
  };
}
