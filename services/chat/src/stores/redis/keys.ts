/**
 * Every Redis key Sala uses, built in one place under one prefix (REDIS_PREFIX; tests use a unique
 * prefix per run). A room's own keys share the hash tag `{room:<id>}` so a move to Redis Cluster
 * keeps each room on one shard; a conversation's keys share `{dm:<a>:<b>}` (its id) the same way.
 * `<name>` is always the case-folded name (stores/types nameKey).
 */
export class RedisKeys {
  constructor(readonly prefix: string) {}

  user(name: string): string {
    return `${this.prefix}:user:${name}`;
  }
  /** Set of room ids the user is a member of. */
  userRooms(name: string): string {
    return `${this.prefix}:user:${name}:rooms`;
  }
  /** Used inside Lua, which builds userRooms keys for each member of a deleted room. */
  get userPrefix(): string {
    return `${this.prefix}:user:`;
  }
  /** Hash: case-folded room name → room id (uniqueness). */
  get roomNames(): string {
    return `${this.prefix}:roomnames`;
  }
  /** Sorted set: room id by creation time (the lobby's room index; never SCAN). */
  get roomIndex(): string {
    return `${this.prefix}:rooms`;
  }
  roomMeta(id: string): string {
    return `${this.prefix}:{room:${id}}:meta`;
  }
  /** Hash: case-folded member name → display name. */
  roomMembers(id: string): string {
    return `${this.prefix}:{room:${id}}:members`;
  }
  /** Hash: key id → base64 key. */
  roomKeys(id: string): string {
    return `${this.prefix}:{room:${id}}:keys`;
  }
  /** Stream: the room's messages, entry id `<seq>-0`, fields from, ts, msg. */
  roomHistory(id: string): string {
    return `${this.prefix}:{room:${id}}:history`;
  }
  /** String `<seq>:<ts>`: a sender's message id already accepted (expires after minutes). */
  roomMessageId(id: string, clientId: string): string {
    return `${this.prefix}:{room:${id}}:msgid:${clientId}`;
  }
  /**
   * Hash of the conversation `dm:<a>:<b>`: keyId, seq, lastTs, `name:<name>` → display name and
   * `read:<name>` → the last seq that participant read, for both participants.
   */
  conversationMeta(id: string): string {
    return `${this.prefix}:{${id}}:meta`;
  }
  /** Hash: key id → base64 key of the conversation. */
  conversationKeys(id: string): string {
    return `${this.prefix}:{${id}}:keys`;
  }
  /** Stream: the conversation's whispers, entry id `<seq>-0`, fields from, ts, msg. */
  conversationHistory(id: string): string {
    return `${this.prefix}:{${id}}:history`;
  }
  /** String `<seq>:<ts>`: a sender's whisper id already accepted (expires after minutes). */
  conversationMessageId(id: string, clientId: string): string {
    return `${this.prefix}:{${id}}:msgid:${clientId}`;
  }
  /** Sorted set: the user's conversation ids by their latest message time (the panel's list). */
  userConversations(name: string): string {
    return `${this.prefix}:user:${name}:conversations`;
  }
  /** Counter bumped by every lobby change (presence, room list, member counts). */
  get lobbyRev(): string {
    return `${this.prefix}:lobby:rev`;
  }
  /** Hash: case-folded name → number of sockets across the cluster. */
  get presence(): string {
    return `${this.prefix}:presence`;
  }
  /** Hash: case-folded name → lobby revision of the user's latest online transition. */
  get presenceOnlineRev(): string {
    return `${this.prefix}:presence:online-rev`;
  }
  /** Hash: case-folded name → display name, for users online. */
  get presenceNames(): string {
    return `${this.prefix}:presence:names`;
  }
  /** Hash: case-folded name → number of sockets on that node (swept when the node dies). */
  nodeSockets(nodeId: string): string {
    return `${this.prefix}:node:${nodeId}:sockets`;
  }
  /** Sorted set: `<rev>:<display name>` of offline transitions, by the time they are confirmed. */
  get pendingOffline(): string {
    return `${this.prefix}:presence:pending-offline`;
  }
  /** Sorted set: node id by last heartbeat (ms). */
  get nodes(): string {
    return `${this.prefix}:nodes`;
  }
  /** List: the node's latest health samples (JSON), newest first. */
  nodeSamples(nodeId: string): string {
    return `${this.prefix}:metrics:${nodeId}`;
  }
  /** Sorted set: node id by its latest sample time. */
  get sampledNodes(): string {
    return `${this.prefix}:metrics:nodes`;
  }
  /** Prefix for connect-redis session keys. */
  get sessionPrefix(): string {
    return `${this.prefix}:sess:`;
  }
  /** Prefix for rate-limiter-flexible keys. */
  rateLimit(name: string): string {
    return `${this.prefix}:rl:${name}`;
  }
}
