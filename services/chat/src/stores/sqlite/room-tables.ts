/**
 * The rooms' tables of the embedded node's SQLite file (run once, by openDatabase, on a new file):
 * what the Redis room shard, directory and user index hold (stores/redis/keys.ts), as rows.
 *
 * A room has two ids: `id`, the public one, and `rid`, an AUTOINCREMENT integer that is never
 * reused. Everything a room owns is keyed by `rid`, so the rows of a deleted room can be purged in
 * small chunks after it is gone (room_purge) without ever showing up under a new room, and message
 * rows carry an 8-byte key instead of the id string.
 *
 * Messages leave a history logically first and physically after: `rooms.floor` is the highest seq
 * that is gone (count cap, retention, age, a clear), every read and change looks above it, and the
 * rows at or below it are deleted a bounded chunk at a time (stores/sqlite/rooms.ts), so that no
 * trim or deletion of a big history stalls the event loop.
 *
 * Names are compared by name key (stores/types nameKey). TEXT compares with the BINARY collation,
 * i.e. the bytes of UTF-8 — code point order, as compareNameKeys and Redis's BYLEX ranges order
 * them — so the name index serves the lobby's pages as they are.
 */
export const ROOM_TABLES = `
CREATE TABLE rooms (
  rid INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  -- nameKey(name): unique case-insensitively; its index serves the lobby's pages by name.
  name_key TEXT NOT NULL UNIQUE,
  -- confusableKey(name) (domain/confusables.ts): no two rooms look alike.
  skeleton TEXT NOT NULL UNIQUE,
  owner TEXT NOT NULL,
  owner_key TEXT NOT NULL,
  -- argon2id hash of the room password; NULL: a public room.
  password_hash TEXT,
  created_at INTEGER NOT NULL,
  -- Kept by the room_members triggers below.
  member_count INTEGER NOT NULL DEFAULT 0,
  -- When the room became empty (ms); NULL while it has members. Idle rooms expire.
  empty_since INTEGER,
  -- The current key's id (room_keys).
  key_id INTEGER NOT NULL,
  -- The last message's seq, and the highest seq no longer in the history (see above).
  seq INTEGER NOT NULL DEFAULT 0,
  floor INTEGER NOT NULL DEFAULT 0,
  -- The room's own cap on kept messages; NULL: the server's.
  retention INTEGER
) STRICT;
-- The lobby's most active rooms first: byActivity (@sala/protocol) is member count, then id, both descending.
CREATE INDEX rooms_by_activity ON rooms (member_count DESC, id DESC);
-- The owner's rooms (ownedBy, and the quota).
CREATE INDEX rooms_by_owner ON rooms (owner_key);
-- Empty rooms by when they became empty (idleRooms, oldest first).
CREATE INDEX rooms_idle ON rooms (empty_since, id) WHERE empty_since IS NOT NULL;

-- How many rooms exist (the lobby's count), kept by triggers: COUNT(*) reads the whole index.
CREATE TABLE room_counts (
  one INTEGER PRIMARY KEY CHECK (one = 1),
  rooms INTEGER NOT NULL
) STRICT;
INSERT INTO room_counts (one, rooms) VALUES (1, 0);
CREATE TRIGGER rooms_counted AFTER INSERT ON rooms BEGIN
  UPDATE room_counts SET rooms = rooms + 1;
END;
CREATE TRIGGER rooms_uncounted AFTER DELETE ON rooms BEGIN
  UPDATE room_counts SET rooms = rooms - 1;
END;

-- Members: name key → display name. A deleted room's members go with it (they are few, and the
-- deletion reads them all anyway).
CREATE TABLE room_members (
  rid INTEGER NOT NULL REFERENCES rooms (rid) ON DELETE CASCADE,
  user_key TEXT NOT NULL,
  username TEXT NOT NULL,
  PRIMARY KEY (rid, user_key)
) STRICT, WITHOUT ROWID;
-- The rooms a user is a member of (roomsOf).
CREATE INDEX room_members_by_user ON room_members (user_key, rid);
-- member_count follows the rows whoever writes them (the store, a restore): a joiner ends the
-- room's idle time; the store stamps empty_since itself when the last member leaves (it needs the time).
CREATE TRIGGER room_member_added AFTER INSERT ON room_members BEGIN
  UPDATE rooms SET member_count = member_count + 1, empty_since = NULL WHERE rid = NEW.rid;
END;
CREATE TRIGGER room_member_removed AFTER DELETE ON room_members BEGIN
  UPDATE rooms SET member_count = member_count - 1 WHERE rid = OLD.rid;
END;

-- Users the owner barred (kick, until unban): at most MAX_BARRED_PER_ROOM per room.
CREATE TABLE room_barred (
  rid INTEGER NOT NULL REFERENCES rooms (rid) ON DELETE CASCADE,
  user_key TEXT NOT NULL,
  username TEXT NOT NULL,
  PRIMARY KEY (rid, user_key)
) STRICT, WITHOUT ROWID;

-- Every key the room has had (the history under older keys stays readable), by id. Purged with
-- the room's messages (room_purge), not by a cascade: a long-lived room may have many.
CREATE TABLE room_keys (
  rid INTEGER NOT NULL,
  key_id INTEGER NOT NULL,
  key TEXT NOT NULL,
  PRIMARY KEY (rid, key_id)
) STRICT, WITHOUT ROWID;

-- The history: one row per stored message, edited in place (msg, edited_at) or left as a
-- tombstone (deleted = 1, msg ''). WITHOUT ROWID: one b-tree by (rid, seq), so a message writes
-- one page, not a table page and an index page (a commit costs the pages it writes); envelopes
-- longer than about 1 KB spill to overflow pages as they would in a rowid table. Rows at or below
-- their room's floor, or of a room that is gone, are purged in chunks.
CREATE TABLE room_messages (
  rid INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  sender TEXT NOT NULL,
  ts INTEGER NOT NULL,
  msg TEXT NOT NULL,
  edited_at INTEGER,
  deleted INTEGER NOT NULL DEFAULT 0,
  -- The sender's message id (sender's name key, ':', client id; NULL: none), so that a send
  -- repeated within MESSAGE_ID_WINDOW_SEC is answered, not stored twice, across a restart too
  -- (looked up in memory while the node runs: stores/sqlite/rooms.ts RecentIds).
  claim TEXT,
  PRIMARY KEY (rid, seq)
) STRICT, WITHOUT ROWID;

-- Rooms with rows still to purge: messages at or below the room's floor, or — the room is gone —
-- all its messages and keys. Drained a chunk at a time, resumed after a restart.
CREATE TABLE room_purge (
  rid INTEGER PRIMARY KEY
) STRICT;
`;
