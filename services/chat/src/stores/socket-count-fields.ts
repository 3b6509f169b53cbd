import { nameKey } from "./types.js";

/**
 * The fields a node's socket counts are kept under, by both stores: `u:<name>` per user
 * (case-folded) and `a:<address>` per client address. Prefixed, so a name never meets an address.
 */
export function socketCountFields(username: string, address: string): { user: string; address: string } {
  return { user: `u:${nameKey(username)}`, address: `a:${address}` };
}

/** A node's tally of its sockets as field → count. */
export function tallyFields(sockets: Iterable<{ username: string; address: string }>): Map<string, number> {
  const tally = new Map<string, number>();
  for (const { username, address } of sockets) {
    for (const field of Object.values(socketCountFields(username, address))) tally.set(field, (tally.get(field) ?? 0) + 1);
  }
  return tally;
}
