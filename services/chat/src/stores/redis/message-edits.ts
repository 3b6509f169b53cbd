/**
 * Edits and deletes of room messages in Redis. A stream entry cannot change in place, so a changed
 * message moves out of the room's history stream into its edits (`{room:<id>}:edits`, keys.ts): a
 * sorted set scored by seq whose one member per changed message holds its whole current state,
 *
 *   `<seq>|<ts>|<editedAt>|e|<from>|<envelope>`   an edit
 *   `<seq>|<ts>|<deletedAt>|d|<from>|`            a tombstone
 *
 * (usernames and envelopes never hold a `|`). The stream entry is deleted (XDEL) in the same step,
 * so the replaced or deleted ciphertext is gone from storage, not just hidden; the stream and the
 * edits never hold the same seq, and a page of history is the two merged by seq (HistoryReader).
 *
 * The edits go with the history: the same window by count (the room's latest `cap` seqs) and by
 * age, trimmed by the accepting script whenever the room has edits (trimEdits below, which also
 * trims the stream by seq, since entries moved out of it no longer count towards its MAXLEN);
 * cleared by clear_history, deleted with the room, trimmed by set_retention.
 */
import type { StoredMessage } from "../types.js";

/**
 * Lua: `parseEdit(member)` → seq, ts, editedAt, kind ('e' | 'd'), from, msg; and
 * `trimEdits(meta, history, edits, seq, cap, cutoff)`, run after message `seq` was accepted: keeps
 * the stream and the edits to seqs above `seq - cap` (cap: the server's, or the meta's lower
 * `retention`), and drops edits older than `cutoff` from the head (at most 100 per call, like
 * trimByAge; 0: no age cap). Only called when the edits key exists.
 */
export const TRIM_EDITS_LUA = `
local function parseEdit(member)
  local seq, ts, at, kind, from, msg = string.match(member, '^(%d+)|(%d+)|(%d+)|(%a)|([^|]*)|(.*)$')
  return tonumber(seq), tonumber(ts), tonumber(at), kind, from, msg
end
local function trimEdits(meta, history, edits, seq, cap, cutoff)
  local own = tonumber(redis.call('HGET', meta, 'retention') or cap)
  if own < cap then cap = own end
  local oldest = seq - cap + 1
  if oldest > 1 then
    redis.call('ZREMRANGEBYSCORE', edits, '-inf', '(' .. string.format('%d', oldest))
    redis.call('XTRIM', history, 'MINID', string.format('%d', oldest) .. '-0')
  end
  if cutoff <= 0 then return end
  -- The head alone first: nearly always young enough, and one member is cheap to copy into Lua
  -- (a batch of 50 would copy up to 50 envelopes on every message of a room with edits).
  local first = redis.call('ZRANGE', edits, 0, 0)[1]
  if not first then return end
  local _s, firstTs = parseEdit(first)
  if firstTs >= cutoff then return end
  for _ = 1, 2 do
    local head = redis.call('ZRANGE', edits, 0, 49)
    local expired = 0
    for _, member in ipairs(head) do
      local _, ts = parseEdit(member)
      if ts >= cutoff then break end
      expired = expired + 1
    end
    if expired == 0 then return end
    redis.call('ZREMRANGEBYRANK', edits, 0, expired - 1)
    if expired < #head then return end
  end
end`;

/**
 * Lua, KEYS: meta, history, edits, members. ARGV: seq, the caller's name key, now (ms), cutoff (the
 * age cap's oldest ts; 0: none), key id ('' for a delete), envelope. Answers {0}: no room; {1}: not
 * a member; {2}: no such message (never stored, trimmed, expired or deleted); {3}: someone else's;
 * {4, keyId}: an edit under a key that is not the current one; {5, editedAt}: done. editedAt is
 * now, or just after the message's previous edit (a node with a slower clock), so that it grows
 * with every edit of a message and receivers keep the edit with the largest.
 */
const CHANGE_MESSAGE = `${TRIM_EDITS_LUA}
if redis.call('HEXISTS', KEYS[4], ARGV[2]) == 0 then
  if redis.call('EXISTS', KEYS[1]) == 0 then return {0} end
  return {1}
end
local seq = ARGV[1]
local from, ts, previous
local edited = redis.call('ZRANGEBYSCORE', KEYS[3], seq, seq)[1]
if edited then
  local _seq, kind
  _seq, ts, previous, kind, from = parseEdit(edited)
  if kind == 'd' then return {2} end
else
  local entry = redis.call('XRANGE', KEYS[2], seq .. '-0', seq .. '-0')[1]
  if not entry then return {2} end
  local fields = entry[2]
  for i = 1, #fields, 2 do
    if fields[i] == 'from' then from = fields[i + 1] elseif fields[i] == 'ts' then ts = tonumber(fields[i + 1]) end
  end
  previous = 0
end
if not from or not ts or ts < tonumber(ARGV[4]) then return {2} end
-- Usernames are ASCII (USERNAME_PATTERN): lower case is their name key.
if string.lower(from) ~= ARGV[2] then return {3} end
if ARGV[5] ~= '' then
  local current = redis.call('HGET', KEYS[1], 'keyId')
  if current ~= ARGV[5] then return {4, tonumber(current)} end
end
local at = math.max(tonumber(ARGV[3]), previous + 1)
local head = seq .. '|' .. string.format('%d', ts) .. '|' .. string.format('%d', at)
local member = ARGV[5] == '' and (head .. '|d|' .. from .. '|') or (head .. '|e|' .. from .. '|' .. ARGV[6])
redis.call('ZREMRANGEBYSCORE', KEYS[3], seq, seq)
redis.call('ZADD', KEYS[3], seq, member)
if not edited then redis.call('XDEL', KEYS[2], seq .. '-0') end
return {5, at}`;

/** Lua, KEYS: meta, history, edits. ARGV: maxMessages. The room keeps its latest maxMessages seqs (set_retention). */
const RETAIN = `
redis.call('HSET', KEYS[1], 'retention', ARGV[1])
local seq = tonumber(redis.call('HGET', KEYS[1], 'seq') or 0)
local oldest = string.format('%d', math.max(seq - tonumber(ARGV[1]) + 1, 0))
redis.call('XTRIM', KEYS[2], 'MINID', oldest .. '-0')
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. oldest)
return 1`;

export const MessageEditScripts = { CHANGE_MESSAGE, RETAIN } as const;

/** A member of the edits set as a stored message (null: not one of ours). */
export function parseEdit(member: string): StoredMessage | null {
  const match = /^(\d+)\|(\d+)\|(\d+)\|([ed])\|([^|]*)\|(.*)$/s.exec(member);
  if (!match) return null;
  const [, seq, ts, at, kind, from, msg] = match;
  const base = { seq: Number(seq), from: from!, ts: Number(ts) };
  return kind === "d" ? { ...base, msg: "", deleted: true } : { ...base, msg: msg!, editedAt: Number(at) };
}

/**
 * One page of a history from its stream's entries and its edits' (each already the first `limit`
 * of its own, in the page's direction; they never share a seq): the first `limit` of both, in that
 * direction.
 */
export function mergePage(entries: StoredMessage[], edits: StoredMessage[], direction: "asc" | "desc", limit: number): StoredMessage[] {
  if (edits.length === 0) return entries.slice(0, limit);
  const sign = direction === "asc" ? 1 : -1;
  return [...entries, ...edits].sort((a, b) => sign * (a.seq - b.seq)).slice(0, limit);
}
