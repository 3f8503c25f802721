-- Times are microseconds since the Unix epoch, UTC.
CREATE TABLE users (
	id                  TEXT PRIMARY KEY,
	username            TEXT NOT NULL UNIQUE,
	password_hash       TEXT NOT NULL,
	created_at          INTEGER NOT NULL,
	password_changed_at INTEGER NOT NULL
);

CREATE TABLE sessions (
	id            TEXT PRIMARY KEY,
	token_hash    BLOB NOT NULL UNIQUE,
	user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	created_at    INTEGER NOT NULL,
	auth_time     INTEGER NOT NULL,
	expires_at    INTEGER NOT NULL,
	last_seen_at  INTEGER NOT NULL,
	idle_us       INTEGER NOT NULL, -- this session's idle timeout
	ip            TEXT NOT NULL,
	user_agent    TEXT NOT NULL,
	amr           TEXT NOT NULL,
	aal           INTEGER NOT NULL,
	revoked_at    INTEGER,
	revoke_reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user_created ON sessions(user_id, created_at);
CREATE INDEX sessions_expires ON sessions(expires_at);

-- The revocation feed: one row per revoked session, in commit order.
CREATE TABLE revocations (
	seq        INTEGER PRIMARY KEY AUTOINCREMENT,
	session_id TEXT NOT NULL,
	user_id    TEXT NOT NULL,
	at         INTEGER NOT NULL,
	reason     TEXT NOT NULL
);
CREATE INDEX revocations_at ON revocations(at);
