/** Size and naming limits shared by the server (validation) and clients (form hints). */
export const Limits = {
  usernameMin: 3,
  usernameMax: 24,
  passwordMin: 8,
  /** Bounded so an attacker cannot make argon2 hash megabytes. */
  passwordMax: 128,
  roomNameMin: 1,
  roomNameMax: 40,
  roomPasswordMin: 4,
  roomPasswordMax: 128,
  /** Plaintext characters in one room message or whisper. */
  messageMax: 2000,
  /** Length of a `text` envelope string: 2000 UTF-8 characters of plaintext encrypt to at most ~10.7k. */
  envelopeMax: 12_000,
} as const;

/** How much of the lobby one socket is sent at once (docs/PROTOCOL.md, the lobby). */
export const LobbyLimits = {
  /** Users, and rooms, in the lobby snapshot's first page and in one `lobby_users` / `lobby_rooms` page. */
  pageMax: 100,
  /** The user's online conversation partners shown first in the snapshot, besides the first page. */
  partnersMax: 20,
  /** The user's own rooms shown first in the snapshot, besides the most active ones. */
  ownRoomsMax: 20,
  /**
   * Bytes of JSON a snapshot holds at most, whatever the names: the first page is cut short (and
   * `pageSize` says so) when long names in many-byte letters would pass it.
   */
  snapshotBytesMax: 16_000,
  /** Rooms `my_rooms` answers with at most: the user's rooms a client joins at every connection. */
  myRoomsMax: 100,
  /** Users (and rooms) one socket follows the changes of, over the pages it asked for since its last search. */
  watchMax: 300,
  /** Characters of a search prefix. */
  prefixMax: 40,
  /** Characters of a paging cursor (a name key). */
  cursorMax: 200,
} as const;

/** Usernames: ASCII letters, digits, `_ . -`, starting with a letter or digit. */
export const USERNAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/**
 * Room names: letters and digits of any script, spaces, `_ . -`; no leading or trailing space.
 * Checked after NFC normalisation.
 */
export const ROOM_NAME_PATTERN = /^[\p{L}\p{N}](?:[\p{L}\p{N} _.-]*[\p{L}\p{N}_.-])?$/u;

/** Room ids are 16 base64url characters (96 random bits) minted by the server. */
export const ROOM_ID_PATTERN = "^[A-Za-z0-9_-]{16}$";
