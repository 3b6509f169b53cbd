/**
 * The case-insensitive identity of a username or room name: what makes `Ana` and `ana` one user,
 * what the lobby sorts and searches by, and what a lobby paging cursor holds. One function for the
 * server, the web client and the load tests, so that they never disagree on who is who.
 */
export function nameKey(name: string): string {
  return name.normalize("NFC").toLowerCase();
}

/** Whether two names are the same user (or room) name. */
export function sameName(a: string, b: string): boolean {
  return nameKey(a) === nameKey(b);
}

/**
 * Orders name keys as Redis orders the lobby's indexes (bytes of UTF-8, i.e. code points), which
 * JavaScript's `<` does not (it compares UTF-16 units: an astral character sorts before U+E000–U+FFFF).
 */
export function compareNameKeys(a: string, b: string): number {
  for (let i = 0, j = 0; i < a.length && j < b.length; ) {
    const ca = a.codePointAt(i)!;
    const cb = b.codePointAt(j)!;
    if (ca !== cb) return ca < cb ? -1 : 1;
    i += ca > 0xffff ? 2 : 1;
    j += cb > 0xffff ? 2 : 1;
  }
  // One is a prefix of the other (or they are equal): the shorter first.
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}
