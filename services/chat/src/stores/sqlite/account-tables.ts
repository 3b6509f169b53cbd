/**
 * The accounts side of the embedded node's SQLite file (version 1 of its layout, database.ts):
 * users and their session index, the operators' audit trail, conversations with their keys,
 * history and read positions, and express-session's sessions. Names are stored twice: the name key
 * (nameKey: what identifies, orders and pages) and the display form, as the Redis hashes do.
 *
 * Every query of the stores filters on a primary key or on an index declared here; the comments
 * say which query each index serves. STRICT everywhere: a value of the wrong type is an error, not
 * a silent conversion.
 */
export const ACCOUNT_TABLES = `
CREATE TABLE users (
  name_key TEXT PRIMARY KEY,
  username TEXT NOT NULL,
  -- The look-alike identity (domain/confusables.ts): UNIQUE is the atomic claim of the name.
  confusable_key TEXT NOT NULL UNIQUE,
  password_hash TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  admin INTEGER NOT NULL DEFAULT 0,
  locked_at INTEGER NOT NULL DEFAULT 0,
  must_change_password INTEGER NOT NULL DEFAULT 0,
  last_login_at INTEGER NOT NULL DEFAULT 0,
  last_seen_at INTEGER NOT NULL DEFAULT 0,
  sessions_not_before INTEGER NOT NULL DEFAULT 0
) STRICT, WITHOUT ROWID;

-- How many accounts exist, kept by triggers: COUNT(*) would read every row (admin stats).
CREATE TABLE user_count (
  only INTEGER PRIMARY KEY CHECK (only = 1),
  value INTEGER NOT NULL
) STRICT;
INSERT INTO user_count (only, value) VALUES (1, 0);
CREATE TRIGGER user_counted AFTER INSERT ON users BEGIN
  UPDATE user_count SET value = value + 1 WHERE only = 1;
END;
CREATE TRIGGER user_uncounted AFTER DELETE ON users BEGIN
  UPDATE user_count SET value = value - 1 WHERE only = 1;
END;

-- Each user's login sessions (SessionIndexStore); not tied to users: the index may list a session
-- of a name whose account is gone, as the Redis set may.
CREATE TABLE user_sessions (
  name_key TEXT NOT NULL,
  session_id TEXT NOT NULL,
  login_at INTEGER NOT NULL,
  PRIMARY KEY (name_key, session_id)
) STRICT, WITHOUT ROWID;
-- list (by login time) and add's forgetting of the entries past the absolute timeout.
CREATE INDEX user_sessions_by_login ON user_sessions (name_key, login_at);

-- The operators' audit trail: ids grow by one per entry (only the oldest are ever deleted), so
-- "the latest n" is an id range.
CREATE TABLE audit_log (
  id INTEGER PRIMARY KEY,
  ts INTEGER NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT NOT NULL,
  outcome TEXT NOT NULL
) STRICT;

-- One row per conversation (id dm:<a>:<b>). ref is the key of everything the conversation holds;
-- AUTOINCREMENT never hands a ref out twice, so a deleted conversation's history, purged in
-- chunks after it is gone, never mixes with a conversation opened again under the same id.
CREATE TABLE conversations (
  ref INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  key_id INTEGER NOT NULL,
  seq INTEGER NOT NULL DEFAULT 0,
  last_ts INTEGER NOT NULL DEFAULT 0,
  -- The lowest seq the length cap keeps: reads skip below it while the trim catches up.
  kept_from INTEGER NOT NULL DEFAULT 1,
  -- A lower bound of the oldest stored message's ts: the age trim looks at the head only when
  -- this is past the cutoff (as the Redis meta hash's headTs).
  head_ts INTEGER NOT NULL DEFAULT 0
) STRICT;

-- The participants (two; one for a conversation with oneself): display name, read position, and
-- whether (and since which message time) the conversation is in their list.
CREATE TABLE conversation_participants (
  conversation INTEGER NOT NULL REFERENCES conversations (ref) ON DELETE CASCADE,
  name_key TEXT NOT NULL,
  username TEXT NOT NULL,
  read_seq INTEGER NOT NULL DEFAULT 0,
  listed_ts INTEGER,
  PRIMARY KEY (conversation, name_key)
) STRICT, WITHOUT ROWID;
-- A user's list, most recent first (list, partners).
CREATE INDEX conversation_lists ON conversation_participants (name_key, listed_ts, conversation) WHERE listed_ts IS NOT NULL;

CREATE TABLE conversation_keys (
  conversation INTEGER NOT NULL REFERENCES conversations (ref) ON DELETE CASCADE,
  key_id INTEGER NOT NULL,
  key TEXT NOT NULL,
  PRIMARY KEY (conversation, key_id)
) STRICT, WITHOUT ROWID;

-- The history; no foreign key: a deleted conversation's messages go in chunks
-- (conversation_purges), not in one cascade of up to HISTORY_MAX rows.
CREATE TABLE conversation_messages (
  conversation INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  sender TEXT NOT NULL,
  ts INTEGER NOT NULL,
  msg TEXT NOT NULL,
  PRIMARY KEY (conversation, seq)
) STRICT;

-- Deleted conversations whose history is still being purged (resumed by the next delete).
CREATE TABLE conversation_purges (
  conversation INTEGER PRIMARY KEY
) STRICT;

-- Message ids senders used lately (<sender name key>:<client id>), answered once within the window.
CREATE TABLE conversation_message_ids (
  conversation INTEGER NOT NULL REFERENCES conversations (ref) ON DELETE CASCADE,
  field TEXT NOT NULL,
  seq INTEGER NOT NULL,
  ts INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (conversation, field)
) STRICT, WITHOUT ROWID;
-- The few expired ids each accept drops.
CREATE INDEX conversation_message_ids_by_expiry ON conversation_message_ids (expires_at);

-- express-session's sessions (session-store.ts): the session as JSON, and when it expires (ms).
CREATE TABLE sessions (
  sid TEXT PRIMARY KEY,
  data TEXT NOT NULL,
  expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
-- The sweep of expired sessions, oldest first.
CREATE INDEX sessions_by_expiry ON sessions (expires_at);

-- The login and registration throttles' counts: rate-limiter-flexible's RateLimiterSQLite table
-- (its columns, as it reads and writes them; auth/throttle.ts), made here to be versioned with the
-- rest and to have the index its chunked sweep (ThrottleSweeper) needs. expire: ms; NULL: never.
CREATE TABLE rate_limits (
  key TEXT PRIMARY KEY,
  points INTEGER NOT NULL DEFAULT 0,
  expire INTEGER
);
CREATE INDEX rate_limits_by_expiry ON rate_limits (expire) WHERE expire IS NOT NULL;
`;
