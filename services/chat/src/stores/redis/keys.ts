/**
 * Every Redis key Sala uses, built in one place under one prefix (REDIS_PREFIX; tests use a unique
 * prefix per run), in three scopes that a Redis Cluster may put on different shards:
 * - a room's own keys share the hash tag `{room:<id>}` (meta, members, keys, history, ...), and so
 *   does the Socket.IO room that carries its traffic (realtime/types SocketRooms.room); a
 *   conversation's keys share `{dm:<a>:<b>}` (its id) the same way;
 * - each user's keys (`user:<name>`, its room sets, its conversations) are each used alone;
 * - the small global keys (presence, lobby revision, nodes, the room index and names, metrics
 *   samples, the audit trail) share the tag `{global}`, so that the scripts that keep them
 *   consistent run on one shard;
 * and the socket counts share `{sockets}`. A script, MULTI or pipeline never mixes scopes (see
 * rooms.ts for the operations that span them). `<name>` is always the case-folded name (stores/types
 * nameKey).
 */
/** A case-folded username (USERNAME_PATTERN, lower case): never `:`, `{`, `}` or spaces. */
const SAFE_NAME_KEY = /^[a-z0-9][a-z0-9_.-]*$/;
/** The hash tag of the global scope. */
export const GLOBAL_TAG = "{global}";

export class RedisKeys {
  constructor(readonly prefix: string) {}

  /**
   * `user:<name>` and the user's other keys (`:rooms`, `:owned`, `:conversations`). The name is
   * checked here as well as at the edge (every username in a payload follows USERNAME_PATTERN): a
   * name with a `:` or a hash tag would otherwise name another user's key of another family.
   */
  private userScoped(name: string, suffix = ""): string {
    if (!SAFE_NAME_KEY.test(name)) throw new Error("refusing to build a user key from a name that is not a username");
    return `${this.prefix}:user:${name}${suffix}`;
  }

  user(name: string): string {
    return this.userScoped(name);
  }
  /** Set of room ids the user is a member of. */
  userRooms(name: string): string {
    return this.userScoped(name, ":rooms");
  }
  /** Sorted set: the user's session ids by login time (ms), so that they can all be ended. */
  userSessions(name: string): string {
    return this.userScoped(name, ":sessions");
  }
  /** Every key of the user's own family: the record and its sets (deleting an account). */
  userFamily(name: string): string[] {
    return [this.user(name), this.userRooms(name), this.userOwnedRooms(name), this.userConversations(name), this.userSessions(name)];
  }
  /** A key of the global scope: every one shares the hash tag `{global}` (one shard). */
  private global(suffix: string): string {
    return `${this.prefix}:${GLOBAL_TAG}:${suffix}`;
  }
  /** Redis MATCH patterns of every room's meta hash, and of every user's key family (repair, migration). */
  get roomMetaPattern(): string {
    return `${this.prefix}:{room:*}:meta`;
  }
  get userPattern(): string {
    return `${this.prefix}:user:*`;
  }
  /**
   * The global keys' names before they shared a hash tag (up to session 9): a node refuses to start
   * while any of them holds data (`npm run admin -- migrate-to-cluster` moves them).
   */
  get legacyGlobalKeys(): string[] {
    return ["roomnames", "rooms", "usernames:skeletons", "audit"].map((suffix) => `${this.prefix}:${suffix}`);
  }
  /** Hash: case-folded room name → room id (uniqueness). */
  get roomNames(): string {
    return this.global("roomnames");
  }
  /** Hash: confusable key of a room name (domain/confusables.ts) → id of the room that holds it. */
  get roomSkeletons(): string {
    return this.global("roomnames:skeletons");
  }
  /** Hash: confusable key of a username → name key of the user who holds it. */
  get userSkeletons(): string {
    return this.global("usernames:skeletons");
  }
  /**
   * Sorted set, every score 0: the name key of every account, so that operators page and search
   * users by name (ZRANGE BYLEX), never SCAN; the repair rebuilds it from the user records.
   */
  get userDirectory(): string {
    return this.global("users:byname");
  }
  /** Sharded pub/sub channel (not a key): the notices of operators' actions to every node (admin/notices.ts). */
  get adminNotices(): string {
    return this.global("admin-notices");
  }
  /** List: the operators' audit trail (admin CLI), newest first, capped. */
  get audit(): string {
    return this.global("audit");
  }
  /** Sorted set: room id by creation time (the lobby's room index; never SCAN). */
  get roomIndex(): string {
    return this.global("rooms");
  }
  /**
   * Sorted set, every score 0: the name key of each listed room, so that the lobby pages and
   * searches rooms by name with lexicographic ranges (ZRANGE BYLEX), never SCAN; roomNames maps
   * each to its id.
   */
  get roomsByName(): string {
    return this.global("rooms:byname");
  }
  /** Sorted set: id of each listed room by its member count (the lobby's most active rooms). */
  get roomsByActivity(): string {
    return this.global("rooms:active");
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
  /**
   * Sorted set by seq: the room's edited and deleted messages, each moved out of roomHistory whole
   * (`<seq>|<ts>|<editedAt>|e|<from>|<envelope>`, or `...|d|<from>|` for a tombstone; message-edits.ts).
   */
  roomEdits(id: string): string {
    return `${this.prefix}:{room:${id}}:edits`;
  }
  /** Hash: case-folded name → display name of each user the owner barred (kick, until unban). */
  roomBarred(id: string): string {
    return `${this.prefix}:{room:${id}}:barred`;
  }
  /**
   * Hash `<sender>:<message id>` → `<seq>:<ts>`: the message ids the room accepted lately, and a
   * sorted set of the same fields by expiry time (ms). Two keys of the room rather than a key
   * per id, so that deleting the room deletes them too (history-stream.ts).
   */
  roomMessageIds(id: string): string {
    return `${this.prefix}:{room:${id}}:msgids`;
  }
  roomMessageIdExpiry(id: string): string {
    return `${this.prefix}:{room:${id}}:msgids:expiry`;
  }
  /** Sorted set: id of each room without members, by when it became empty (ms); idle rooms expire. */
  get emptyRooms(): string {
    return this.global("rooms:empty");
  }
  /** Set of the ids of the rooms the user owns (the per-user room quota). */
  userOwnedRooms(name: string): string {
    return this.userScoped(name, ":owned");
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
  /** Like roomMessageIds: the whisper ids the conversation accepted lately, and their expiry. */
  conversationMessageIds(id: string): string {
    return `${this.prefix}:{${id}}:msgids`;
  }
  conversationMessageIdExpiry(id: string): string {
    return `${this.prefix}:{${id}}:msgids:expiry`;
  }
  /** Sorted set: the user's conversation ids by their latest message time (the panel's list). */
  userConversations(name: string): string {
    return this.userScoped(name, ":conversations");
  }
  /** Counter bumped by every lobby change (presence, room list, member counts). */
  get lobbyRev(): string {
    return this.global("lobby:rev");
  }
  /** Hash: case-folded name → number of sockets across the cluster. */
  get presence(): string {
    return this.global("presence");
  }
  /** Hash: case-folded name → lobby revision of the user's latest online transition. */
  get presenceOnlineRev(): string {
    return this.global("presence:online-rev");
  }
  /** Hash: case-folded name → display name, for users listed in the lobby (online, or offline within their grace period). */
  get presenceNames(): string {
    return this.global("presence:names");
  }
  /** Sorted set, every score 0: the name key of each user listed in the lobby, as presenceNames (the lobby's user pages and search). */
  get presenceByName(): string {
    return this.global("presence:byname");
  }
  /** Hash: case-folded name → number of sockets on that node (swept when the node dies). */
  nodeSockets(nodeId: string): string {
    return this.global(`node:${nodeId}:sockets`);
  }
  /** Sorted set: `<rev>:<display name>` of offline transitions, by the time they are confirmed. */
  get pendingOffline(): string {
    return this.global("presence:pending-offline");
  }
  /** String: the node repairing the derived indexes (repair.ts), until it expires. */
  get repairLease(): string {
    return this.global("repair:lease");
  }
  /** String: the schema version the data is at (stores/schema.ts); absent on a fresh store or on data from before versions. */
  get schemaVersion(): string {
    return this.global("schema");
  }
  /** Sorted set: node id by last heartbeat (ms). */
  get nodes(): string {
    return this.global("nodes");
  }
  /**
   * Sorted set: node id → until when (ms) its socket counts are live. The socket caps add up the
   * counts of the nodes listed here; all socket-count keys share the `{sockets}` hash tag.
   */
  get socketCountNodes(): string {
    return `${this.prefix}:{sockets}:nodes`;
  }
  /** Hash `u:<name>` / `a:<client address>` → sockets the node holds; expires unless it heartbeats. */
  nodeSocketCounts(nodeId: string): string {
    return `${this.nodeSocketCountsPrefix}${nodeId}`;
  }
  /** Used inside Lua, which builds nodeSocketCounts keys for each live node. */
  get nodeSocketCountsPrefix(): string {
    return `${this.prefix}:{sockets}:node:`;
  }
  /** List: the node's latest health samples (JSON), newest first. */
  nodeSamples(nodeId: string): string {
    return this.global(`metrics:${nodeId}`);
  }
  /** Sorted set: node id by its latest sample time. */
  get sampledNodes(): string {
    return this.global("metrics:nodes");
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
