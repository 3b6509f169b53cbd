/**
 * What room and conversation histories share in Redis: a stream per history whose entry ids are
 * `<seq>-0` (so ids are sequence numbers, not times) with fields from, ts, msg; the Lua that
 * accepts a message into one; the age cap; and reading pages back.
 *
 * The age cap (HISTORY_MAX_AGE_SEC). Stream ids are not times, so XTRIM MINID cannot cut by age
 * directly. Entries are appended in seq order with the accepting node's clock, so ts grows with
 * seq (up to clock skew between nodes): the expired entries are at the head. `trimByAge` looks at
 * the head entry (one XRANGE COUNT 1: O(1) while nothing has expired, which is nearly always),
 * and only when it is expired scans batches of 50 from the head and cuts them with XTRIM MINID at
 * the first entry still young enough — at most 1000 entries per call, so no call is long; a
 * backlog (a room idle for longer than the cap) shrinks over the following calls. It runs inside
 * the accepting script, whenever the meta hash's `headTs` (a lower bound of the head entry's ts:
 * entries only ever leave from the head) is before the cutoff, and then records the new head's
 * ts: so a write looks at the stream's head only about once per age-cap period, not on every
 * message, and still trims on the first write after an entry expired. Reads do not trim (that
 * would cost a round trip on every join and page); they skip any entry older than the cutoff
 * instead, so an entry kept by the bound, by clock skew, or in a history nobody writes to any
 * more is never returned.
 */
import type { RedisClient } from "../../redis.js";
import type { RoomKey } from "@sala/protocol";
import { mergePage, parseEdit } from "./message-edits.js";
import { nameKey, type AcceptResult, type HistoryQuery, type StoredMessage as LoggedMessage } from "../types.js";

/** Lua: `trimByAge(key, cutoff)` removes head entries whose ts is before cutoff (0: no age cap). */
export const TRIM_BY_AGE_LUA = `
local function entryTs(entry)
  local fields = entry[2]
  for i = 1, #fields, 2 do
    if fields[i] == 'ts' then return tonumber(fields[i + 1]) end
  end
  return 0
end
local function trimByAge(key, cutoff)
  if cutoff <= 0 then return end
  for _ = 1, 20 do
    local head = redis.call('XRANGE', key, '-', '+', 'COUNT', 1)[1]
    if not head or entryTs(head) >= cutoff then return end
    local batch = redis.call('XRANGE', key, '-', '+', 'COUNT', 50)
    for _, entry in ipairs(batch) do
      if entryTs(entry) >= cutoff then
        redis.call('XTRIM', key, 'MINID', entry[1])
        return
      end
    end
    local last = batch[#batch][1]
    redis.call('XTRIM', key, 'MINID', (tonumber(string.sub(last, 1, string.find(last, '-', 1, true) - 1)) + 1) .. '-0')
  end
end`;

/**
 * Lua: `claimId(ids, expiry, field, value, now, windowMs)`: the message ids a room or conversation
 * accepted lately, as a hash `field → value` with a sorted set of the same fields by expiry. Not a
 * key per id: those outlived a deleted room by the whole window (one key per message); these two
 * keys share the history's hash tag and go with it. Each claim first drops up to 20 expired ids,
 * more than one message brings, so the hash stays about a window's worth of ids. Answers the
 * earlier value for a field still remembered, else records this one and answers false.
 */
export const CLAIM_ID_LUA = `
local function claimId(ids, expiry, field, value, now, windowMs)
  local expired = redis.call('ZRANGEBYSCORE', expiry, '-inf', now, 'LIMIT', 0, 20)
  if #expired > 0 then
    redis.call('HDEL', ids, unpack(expired))
    redis.call('ZREM', expiry, unpack(expired))
  end
  local earlier = redis.call('HGET', ids, field)
  if earlier then return earlier end
  redis.call('HSET', ids, field, value)
  redis.call('ZADD', expiry, now + windowMs, field)
  return false
end
local function releaseId(ids, expiry, field)
  redis.call('HDEL', ids, field)
  redis.call('ZREM', expiry, field)
end`;

/**
 * Lua: `acceptMessage(meta, history, ids, idExpiry, argv)` with argv = {keyId, from, ts, msg, cap,
 * hasId, cutoff, idWindowSec, idField}: a sender id (idField: `<sender>:<id>`) repeated within
 * idWindowSec seconds gets its first answer {2, seq, ts}; a key id that is not
 * the meta hash's `keyId` gets {0, currentKeyId}; otherwise the message gets the next `seq` of
 * the meta hash and is appended (capped by length — the meta's own `retention` may lower it —
 * and by age): {1, seq}. false: no meta (no such room or conversation).
 *
 * On the common path (it runs for every message): the meta fields in one HMGET, the sender's id
 * claimed and checked (claimId; undone if the key turns out stale), the new seq, the append; the
 * age trim only when `headTs` says the head may have expired.
 */
export const ACCEPT_MESSAGE_LUA = `${TRIM_BY_AGE_LUA}
${CLAIM_ID_LUA}
local function acceptMessage(meta, history, ids, idExpiry, argv)
  local state = redis.call('HMGET', meta, 'keyId', 'retention', 'seq', 'headTs')
  local current = state[1]
  if not current then return false end
  local seq = tonumber(state[3] or 0) + 1
  local hasId = argv[6] == '1'
  if hasId then
    local earlier = claimId(ids, idExpiry, argv[9], seq .. ':' .. argv[3], tonumber(argv[3]), tonumber(argv[8]) * 1000)
    if earlier then
      local sep = string.find(earlier, ':', 1, true)
      return {2, tonumber(string.sub(earlier, 1, sep - 1)), tonumber(string.sub(earlier, sep + 1))}
    end
  end
  if current ~= argv[1] then
    if hasId then releaseId(ids, idExpiry, argv[9]) end
    return {0, tonumber(current)}
  end
  local cap = tonumber(argv[5])
  local own = tonumber(state[2] or argv[5])
  if own < cap then cap = own end
  if cap > 0 then
    -- Scripts do not roll back: should the append fail, release the id claimed above, so that a
    -- retry is not answered as a repeat of a message that was never stored.
    local added = redis.pcall('XADD', history, 'MAXLEN', cap, seq .. '-0', 'from', argv[2], 'ts', argv[3], 'msg', argv[4])
    if type(added) == 'table' and added.err then
      if hasId then releaseId(ids, idExpiry, argv[9]) end
      return redis.error_reply(added.err)
    end
  end
  redis.call('HSET', meta, 'seq', seq)
  local cutoff = tonumber(argv[7])
  if cutoff > 0 and tonumber(state[4] or 0) < cutoff then
    trimByAge(history, cutoff)
    -- Never later than this message's own ts: a head written by a node whose clock ran ahead must
    -- not hold off the next trim once that entry is gone.
    local now = tonumber(argv[3])
    local head = redis.call('XRANGE', history, '-', '+', 'COUNT', 1)[1]
    redis.call('HSET', meta, 'headTs', head and math.min(entryTs(head), now) or now)
  end
  return {1, seq}
end`;

/** The acceptMessage arguments after the keys, in order (9 of them). */
export function acceptArgs(
  m: { keyId: number; from: string; ts: number; msg: string; clientId?: string },
  maxMessages: number,
  cutoff: number,
  idWindowSec: number,
) {
  // Scoped by sender: another member reusing an id is not mistaken for a repeat.
  const idField = `${nameKey(m.from)}:${m.clientId ?? "-"}`;
  return [m.keyId, m.from, m.ts, m.msg, maxMessages, m.clientId ? "1" : "0", cutoff, idWindowSec, idField];
}

/** The answer of acceptMessage, as the stores return it; `announced`: a new message was published. */
export function acceptResult(result: unknown, ts: number, announced = false): AcceptResult | null {
  const answer = result as [number, number, number?] | null;
  if (!answer) return null;
  if (answer[0] === 0) return { staleKey: answer[1] };
  if (answer[0] === 2) return { seq: answer[1], ts: answer[2] ?? ts, duplicate: true, announced: false };
  return { seq: answer[1], ts, duplicate: false, announced };
}

/**
 * Reads pages of history streams, never returning entries past the age cap. With an edits key (a
 * room's: message-edits.ts), each page is the stream's entries and the edited or deleted messages
 * in the same range, read together in one MULTI (an edit moves a message from one to the other)
 * and merged by seq.
 */
export class HistoryReader {
  constructor(private readonly redis: RedisClient) {}

  async read(key: string, query: HistoryQuery, editsKey?: string): Promise<LoggedMessage[]> {
    const notBefore = query.notBefore ?? 0;
    const live = (entries: LoggedMessage[]) => entries.filter((entry) => entry.ts >= notBefore);
    if (query.afterSeq === undefined) {
      const latest = await this.page(key, editsKey, "desc", query.beforeSeq, query.limit);
      return live(latest.reverse());
    }
    // Forwards, expired entries not yet trimmed come first: skip past them (bounded).
    let after = query.afterSeq;
    const found: LoggedMessage[] = [];
    for (let page = 0; page < 10 && found.length < query.limit; page++) {
      const entries = await this.page(key, editsKey, "asc", after, query.limit);
      found.push(...live(entries));
      if (entries.length < query.limit) break;
      after = entries.at(-1)!.seq;
    }
    return found.slice(0, query.limit);
  }

  /** The first `limit` messages past seq `from` (exclusive; none: from the end) in `direction`. */
  private async page(key: string, editsKey: string | undefined, direction: "asc" | "desc", from: number | undefined, limit: number): Promise<LoggedMessage[]> {
    const count = String(limit);
    const [start, end] = direction === "asc" ? [`(${from ?? 0}-0`, "+"] : [from !== undefined ? `(${from}-0` : "+", "-"];
    if (!editsKey) return parse(await (direction === "asc" ? this.redis.xrange(key, start, end, "COUNT", count) : this.redis.xrevrange(key, start, end, "COUNT", count)));
    const transaction = this.redis.multi();
    if (direction === "asc") transaction.xrange(key, start, end, "COUNT", count).zrangebyscore(editsKey, `(${from ?? 0}`, "+inf", "LIMIT", 0, limit);
    else transaction.xrevrange(key, start, end, "COUNT", count).zrevrangebyscore(editsKey, from !== undefined ? `(${from}` : "+inf", "-inf", "LIMIT", 0, limit);
    const [[streamError, entries] = [null, []], [editsError, edits] = [null, []]] = ((await transaction.exec()) ?? []) as Array<[Error | null, unknown]>;
    if (streamError || editsError) throw streamError ?? editsError;
    const changed = (edits as string[]).flatMap((member) => parseEdit(member) ?? []);
    return mergePage(parse(entries as Array<[string, string[]]>), changed, direction, limit);
  }
}

function parse(entries: Array<[id: string, fields: string[]]>): LoggedMessage[] {
  return entries.map(([id, fields]) => {
    // Field names sit at even indexes: a value (a user named "msg") is never taken for a name.
    const values: Record<string, string> = {};
    for (let i = 0; i + 1 < fields.length; i += 2) values[fields[i]!] = fields[i + 1]!;
    return { seq: Number(id.split("-")[0]), from: values.from ?? "", ts: Number(values.ts), msg: values.msg ?? "" };
  });
}

/** The keys with these ids from a hash of key id → base64 key (unknown ids are left out). */
export async function keysFromHash(redis: RedisClient, hash: string, ids: number[]): Promise<RoomKey[]> {
  const unique = [...new Set(ids)];
  if (unique.length === 0) return [];
  const values = await redis.hmget(hash, ...unique.map(String));
  return unique.flatMap((id, i) => (values[i] ? [{ id, key: values[i]! }] : []));
}
