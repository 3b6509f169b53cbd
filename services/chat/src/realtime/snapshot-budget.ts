import type { LobbySnapshot } from "@sala/protocol";
import type { LobbyFirstPage } from "../stores/types.js";

/** Bytes of JSON one entry of a list takes, its separating comma included. */
const entryBytes = (entry: unknown): number => Buffer.byteLength(JSON.stringify(entry), "utf8") + 1;

/** Running totals: sums[k] is what the first k entries of the list take. */
function prefixSums(list: readonly unknown[]): number[] {
  const sums = [0];
  for (const entry of list) sums.push(sums[sums.length - 1]! + entryBytes(entry));
  return sums;
}

interface PageSizes {
  users: number[];
  rooms: number[];
}

/**
 * Every lobby socket of a node starts from the same first page (FirstPageTicker.current), so its
 * entries are measured once per page, not once per handshake.
 */
const measuredPages = new WeakMap<LobbyFirstPage, PageSizes>();

function measure(page: LobbyFirstPage): PageSizes {
  let sizes = measuredPages.get(page);
  if (!sizes) measuredPages.set(page, (sizes = { users: prefixSums(page.users), rooms: prefixSums(page.rooms) }));
  return sizes;
}

/**
 * The snapshot within `maxBytes` of JSON whatever the names: the counts, the user's partners and own
 * rooms always (each list is bounded by LobbyLimits), then as much of the first page as fits — the
 * same number of users and rooms, which `pageSize` then says, so that a client takes the rest for
 * the next page (LobbyState drops changes that fall past it; "more" pages on from there).
 * A room takes ≈ 110 bytes besides its name and owner: 100 rooms of 12-character names by
 * 10-character owners fit whole (≈ 15 KB with 100 users); 40-character names in four-byte letters
 * by 24-character owners would take ≈ 38 KB, and the page is then cut to ≈ 30.
 *
 * `page` is the first page the snapshot's `users` and `rooms` are (its measure is kept with it).
 */
export function fitSnapshot(snapshot: LobbySnapshot, page: LobbyFirstPage, maxBytes: number): LobbySnapshot {
  const sizes = measure(page);
  const fixed = entryBytes({ ...snapshot, users: [], rooms: [] });
  const bytesWith = (k: number) => fixed + sizes.users[Math.min(k, page.users.length)]! + sizes.rooms[Math.min(k, page.rooms.length)]!;
  let fits = Math.max(page.users.length, page.rooms.length);
  if (bytesWith(fits) <= maxBytes) return snapshot;
  // The largest k that fits (bytesWith grows with k); the parts outside the page are bounded well
  // below maxBytes (LobbyLimits), so some of the page always fits.
  let tooMany = fits;
  fits = 0;
  while (tooMany - fits > 1) {
    const k = (fits + tooMany) >> 1;
    if (bytesWith(k) <= maxBytes) fits = k;
    else tooMany = k;
  }
  return { ...snapshot, users: page.users.slice(0, fits), rooms: page.rooms.slice(0, fits), pageSize: Math.min(snapshot.pageSize, fits) };
}
