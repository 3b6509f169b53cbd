/**
 * The lobby read in pages from its indexes under `{global}` (keys.ts): online users by name
 * (presenceByName), rooms by name (roomsByName) and by member count (roomsByActivity), kept by the
 * presence and directory scripts as they change. Each read is one script or one MULTI: a page is
 * O(log n + page) in Redis, whatever the number of users and rooms.
 */
import { compareNameKeys, nameKey, type LobbyCounts, type RoomSummary } from "@sala/protocol";
import type { RedisClient } from "../../redis.js";
import type { LobbyFirstPage, LobbyPage, LobbyPageQuery, LobbyStore } from "../types.js";
import type { RedisKeys } from "./keys.js";
import type { RedisRoomStore } from "./rooms.js";
import { defineScript, type Script } from "./script.js";

// KEYS: a by-name index, the hash from its name keys to values, lobbyRev. ARGV: min, max (ZRANGEBYLEX
// bounds), limit. → {rev, the key to continue after ('' = no more), key, value, key, value, ...}; a
// key whose value is gone is left out. One more than the limit is read, to know if there are more.
const NAME_PAGE = `
local limit = tonumber(ARGV[3])
local rev = redis.call('GET', KEYS[3]) or '0'
local found = redis.call('ZRANGEBYLEX', KEYS[1], ARGV[1], ARGV[2], 'LIMIT', 0, limit + 1)
local out = {rev, ''}
if #found > limit then
  out[2] = found[limit]
  found[limit + 1] = nil
end
if #found == 0 then return out end
local values = redis.call('HMGET', KEYS[2], unpack(found))
for i = 1, #found do
  if values[i] then
    out[#out + 1] = found[i]
    out[#out + 1] = values[i]
  end
end
return out`;

// KEYS: presenceByName, presenceNames, roomsByActivity, lobbyRev, roomIndex. ARGV: size.
// → {rev, users online, rooms, n, display × n, id, members, id, members, ...}
const FIRST_PAGE = `
local size = tonumber(ARGV[1])
local rev = redis.call('GET', KEYS[4]) or '0'
local out = {rev, redis.call('ZCARD', KEYS[1]), redis.call('ZCARD', KEYS[5])}
local users = redis.call('ZRANGE', KEYS[1], 0, size - 1)
out[4] = #users
if #users > 0 then
  local names = redis.call('HMGET', KEYS[2], unpack(users))
  for i = 1, #users do out[#out + 1] = names[i] or users[i] end
end
local rooms = redis.call('ZREVRANGE', KEYS[3], 0, size - 1, 'WITHSCORES')
for i = 1, #rooms do out[#out + 1] = rooms[i] end
return out`;

/** Sorts after every character a name key can hold (Redis compares bytes: UTF-8 order). */
const AFTER_ALL = "\u{10FFFF}";

/** The ZRANGEBYLEX bounds of a page of name keys: those starting with `prefix`, after `after`. */
export function lexBounds({ prefix, after }: Pick<LobbyPageQuery, "prefix" | "after">): { min: string; max: string } {
  const min = after !== null && compareNameKeys(after, prefix) >= 0 ? `(${after}` : `[${prefix}`;
  const max = prefix === "" ? "+" : `[${prefix}${AFTER_ALL}`;
  return { min, max };
}

export class RedisLobbyStore implements LobbyStore {
  private readonly namePage: Script;
  private readonly firstPageScript: Script;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    private readonly rooms: RedisRoomStore,
  ) {
    this.namePage = defineScript(redis, "salaLobbyNamePage", 3, NAME_PAGE);
    this.firstPageScript = defineScript(redis, "salaLobbyFirstPage", 5, FIRST_PAGE);
  }

  async firstPage(size: number): Promise<LobbyFirstPage> {
    const k = this.keys;
    const flat = (await this.firstPageScript([k.presenceByName, k.presenceNames, k.roomsByActivity, k.lobbyRev, k.roomIndex], [size])) as Array<
      string | number
    >;
    const userCount = Number(flat[3]);
    const users = flat.slice(4, 4 + userCount).map(String);
    const ranked = flat.slice(4 + userCount).map(String);
    const ids = ranked.filter((_, i) => i % 2 === 0);
    return {
      rev: Number(flat[0]),
      counts: { users: Number(flat[1]), rooms: Number(flat[2]) },
      users,
      rooms: await this.rooms.summaries(ids),
    };
  }

  async userPage(query: LobbyPageQuery): Promise<LobbyPage<string>> {
    const page = await this.readNamePage(this.keys.presenceByName, this.keys.presenceNames, query);
    return { ...page, items: page.items.map(([, display]) => display) };
  }

  async roomPage(query: LobbyPageQuery): Promise<LobbyPage<RoomSummary>> {
    const page = await this.readNamePage(this.keys.roomsByName, this.keys.roomNames, query);
    return { ...page, items: await this.rooms.summaries(page.items.map(([, id]) => id)) };
  }

  async counts(): Promise<LobbyCounts> {
    const results = (await this.redis.multi().zcard(this.keys.presenceByName).zcard(this.keys.roomIndex).exec()) ?? [];
    const [[usersError, users] = [], [roomsError, rooms] = []] = results;
    if (usersError || roomsError) throw usersError ?? roomsError;
    return { users: Number(users), rooms: Number(rooms) };
  }

  async onlineOf(usernames: string[]): Promise<{ rev: number; online: string[] }> {
    if (usernames.length === 0) return { rev: await this.rev(), online: [] };
    const results = (await this.redis.multi().get(this.keys.lobbyRev).hmget(this.keys.presenceNames, ...usernames.map(nameKey)).exec()) ?? [];
    const [[revError, rev] = [], [namesError, names] = []] = results;
    if (revError || namesError) throw revError ?? namesError;
    return { rev: Number(rev ?? 0), online: (names as Array<string | null>).filter((name): name is string => name !== null) };
  }

  async rev(): Promise<number> {
    return Number((await this.redis.get(this.keys.lobbyRev)) ?? 0);
  }

  /** Name keys and their values, in name order. */
  private async readNamePage(index: string, values: string, query: LobbyPageQuery): Promise<LobbyPage<[string, string]>> {
    const { min, max } = lexBounds(query);
    const { limit } = query;
    const [rev, next = "", ...flat] = ((await this.namePage([index, values, this.keys.lobbyRev], [min, max, limit])) as Array<string | number>).map(String);
    const items: Array<[string, string]> = [];
    for (let i = 0; i + 1 < flat.length; i += 2) items.push([flat[i]!, flat[i + 1]!]);
    return { items, next: next === "" ? null : next, rev: Number(rev) };
  }
}
