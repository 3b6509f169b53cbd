import type { RedisClient } from "../../redis.js";
import { conversationId, partnerIn, type ConversationSummary, type RoomKey, type Whisper } from "@sala/protocol";
import {
  nameKey,
  oldestKept,
  type AcceptResult,
  type ConversationStore,
  type HistoryCap,
  type HistoryQuery,
  type IncomingWhisper,
} from "../types.js";
import { ACCEPT_MESSAGE_LUA, acceptArgs, acceptResult, HistoryReader, keysFromHash } from "./history-stream.js";
import { readEach } from "./batch.js";
import type { RedisKeys } from "./keys.js";
import { defineScript, type Script } from "./script.js";
import { WaitedScript, wroteMessage, type ReplicaWait } from "./replica-wait.js";

// KEYS: meta, keys. ARGV: my name key, my display name, peer name key, peer display name, key.
// Creates the conversation with key 1 when new. → {keyId, key, seq, lastTs, my read seq, peer display name}
const OPEN = `
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'keyId', 1, 'seq', 0, 'lastTs', 0,
    'name:' .. ARGV[1], ARGV[2], 'name:' .. ARGV[3], ARGV[4], 'read:' .. ARGV[1], 0, 'read:' .. ARGV[3], 0)
  redis.call('HSET', KEYS[2], 1, ARGV[5])
end
local m = redis.call('HMGET', KEYS[1], 'keyId', 'seq', 'lastTs', 'read:' .. ARGV[1], 'name:' .. ARGV[3])
return {tonumber(m[1]), redis.call('HGET', KEYS[2], m[1]), tonumber(m[2]), tonumber(m[3]), tonumber(m[4] or 0), m[5]}`;

// KEYS: meta, history, message ids, their expiry. ARGV: acceptArgs, then the sender's name key.
// As rooms, and an accepted whisper moves the sender's read seq to it.
const ACCEPT = `${ACCEPT_MESSAGE_LUA}
local answer = acceptMessage(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV)
if answer and answer[1] == 1 then
  redis.call('HSET', KEYS[1], 'lastTs', ARGV[3], 'read:' .. ARGV[10], answer[2])
end
return answer`;

// KEYS: meta. ARGV: my name key, seq. → {seq, lastTs, read seq} or nil
const MARK_READ = `
local m = redis.call('HMGET', KEYS[1], 'seq', 'lastTs', 'read:' .. ARGV[1])
if not m[1] then return false end
local read = math.max(tonumber(m[3] or 0), math.min(tonumber(ARGV[2]), tonumber(m[1])))
redis.call('HSET', KEYS[1], 'read:' .. ARGV[1], read)
return {tonumber(m[1]), tonumber(m[2]), read}`;

/**
 * Conversations in Redis: one hash tag per conversation (`{dm:<a>:<b>}`: meta, keys, history) so
 * each lives on one shard, plus a sorted set per user listing theirs. The list is updated after
 * the atomic accept, outside its script (it is on the users' shards): a crash in between leaves
 * the message stored and listed at the next one; `open` lists it for the opener at once.
 */
export class RedisConversationStore implements ConversationStore {
  private readonly openScript: Script;
  private readonly acceptScript: Script;
  private readonly markReadScript: Script;
  private readonly reader: HistoryReader;
  /** With REDIS_WAIT_REPLICAS: the accepting script, run with a WAIT (replica-wait.ts). */
  private readonly waitedAccept: WaitedScript | null;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    /** How long a sender's message id is remembered, so that a retry is answered, not posted again. */
    private readonly messageIdWindowSec: number,
    /** Replicas that must hold a whisper before it is acknowledged (REDIS_WAIT_REPLICAS; null: none). */
    replicaWait: ReplicaWait | null = null,
  ) {
    this.waitedAccept = replicaWait ? new WaitedScript(redis, ACCEPT, replicaWait) : null;
    this.openScript = defineScript(redis, "salaConversationOpen", 2, OPEN);
    this.acceptScript = defineScript(redis, "salaConversationAccept", 4, ACCEPT);
    this.markReadScript = defineScript(redis, "salaConversationMarkRead", 1, MARK_READ);
    this.reader = new HistoryReader(redis);
  }

  async open(me: string, peer: string, key: string): Promise<{ conversation: ConversationSummary; key: RoomKey }> {
    const id = conversationId(me, peer);
    const k = this.keys;
    const [keyId, current, seq, lastTs, read, peerName] = (await this.openScript(
      [k.conversationMeta(id), k.conversationKeys(id)],
      [nameKey(me), me, nameKey(peer), peer, key],
    )) as [number, string, number, number, number, string];
    // Listed for the opener; NX keeps the time of its latest message if it is listed already.
    await this.redis.zadd(k.userConversations(nameKey(me)), "NX", lastTs, id);
    return { conversation: { id, with: peerName, unread: seq - read, lastSeq: seq, lastTs }, key: { id: keyId, key: current } };
  }

  async list(me: string, limit: number): Promise<ConversationSummary[]> {
    const mine = nameKey(me);
    const ids = await this.redis.zrevrange(this.keys.userConversations(mine), 0, limit - 1);
    if (ids.length === 0) return [];
    const results = await readEach(this.redis, ids, (pipeline, id) => pipeline.hgetall(this.keys.conversationMeta(id)));
    return results.flatMap(([value], i) => {
      const meta = value as Record<string, string>;
      if (meta.seq === undefined) return [];
      const peerName = Object.entries(meta).find(([field]) => field.startsWith("name:") && field !== `name:${mine}`)?.[1] ?? "";
      const seq = Number(meta.seq);
      return [{ id: ids[i]!, with: peerName, unread: seq - Number(meta[`read:${mine}`] ?? 0), lastSeq: seq, lastTs: Number(meta.lastTs ?? 0) }];
    });
  }

  /** The conversation's own keys in one step (one slot), then each participant's list. */
  async delete(id: string): Promise<void> {
    const [tag, first, second] = id.split(":");
    if (tag !== "dm" || !first || !second) return;
    const k = this.keys;
    await this.redis.del(k.conversationMeta(id), k.conversationKeys(id), k.conversationHistory(id), k.conversationMessageIds(id), k.conversationMessageIdExpiry(id));
    await Promise.all([first, second].map((name) => this.redis.zrem(k.userConversations(name), id)));
  }

  async partners(me: string, limit: number): Promise<string[]> {
    const ids = await this.redis.zrevrange(this.keys.userConversations(nameKey(me)), 0, limit - 1);
    return ids.flatMap((id) => partnerIn(id, me) ?? []);
  }

  async accept(whisper: IncomingWhisper, cap: HistoryCap): Promise<AcceptResult | null> {
    const id = conversationId(whisper.from, whisper.to);
    const k = this.keys;
    const from = nameKey(whisper.from);
    const keys = [k.conversationMeta(id), k.conversationHistory(id), k.conversationMessageIds(id), k.conversationMessageIdExpiry(id)];
    const args = [...acceptArgs(whisper, cap.maxMessages, oldestKept(cap, whisper.ts), this.messageIdWindowSec), from];
    const result = acceptResult(
      this.waitedAccept ? await this.waitedAccept.runReplicated(keys, args, wroteMessage) : await this.acceptScript(keys, args),
      whisper.ts,
    );
    // A repeat that waited again is delivered again: the first attempt may have been refused.
    if (this.waitedAccept && result && "duplicate" in result && result.duplicate) result.deliver = true;
    if (result && "seq" in result && !result.duplicate) {
      // Each user's list is a key of its own (any shard of a Redis Cluster): two commands, sent together.
      await Promise.all([
        this.redis.zadd(k.userConversations(from), "GT", whisper.ts, id),
        this.redis.zadd(k.userConversations(nameKey(whisper.to)), "GT", whisper.ts, id),
      ]);
    }
    return result;
  }

  async history(me: string, peer: string, query: HistoryQuery): Promise<Whisper[]> {
    const id = conversationId(me, peer);
    const entries = await this.reader.read(this.keys.conversationHistory(id), query);
    return entries.map((entry) => ({ conversationId: id, ...entry, to: nameKey(entry.from) === nameKey(me) ? peer : me }));
  }

  async markRead(me: string, peer: string, seq: number): Promise<ConversationSummary | null> {
    const id = conversationId(me, peer);
    const result = (await this.markReadScript([this.keys.conversationMeta(id)], [nameKey(me), seq])) as [number, number, number] | null;
    if (!result) return null;
    const [lastSeq, lastTs, read] = result;
    return { id, with: peer, unread: lastSeq - read, lastSeq, lastTs };
  }

  keysById(id: string, ids: number[]): Promise<RoomKey[]> {
    return keysFromHash(this.redis, this.keys.conversationKeys(id), ids);
  }
}
