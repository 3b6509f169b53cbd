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
