-- Times are microseconds since the Unix epoch, UTC, in bigint columns, as in
-- the SQLite schema: the same values, the same arithmetic in the queries
-- (last_seen_at + idle_us), and no time-zone or infinity cases to map.
CREATE TABLE users (
	id                  text PRIMARY KEY,
	username            text NOT NULL UNIQUE,
	password_hash       text NOT NULL,
	created_at          bigint NOT NULL,
	password_changed_at bigint NOT NULL
);

CREATE TABLE sessions (
	id            text PRIMARY KEY,
	token_hash    bytea NOT NULL UNIQUE,
	user_id       text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	created_at    bigint NOT NULL,
	auth_time     bigint NOT NULL,
	expires_at    bigint NOT NULL,
	last_seen_at  bigint NOT NULL,
	idle_us       bigint NOT NULL, -- this session's idle timeout
	ip            text NOT NULL,
	user_agent    text NOT NULL,
	amr           text NOT NULL,
	aal           integer NOT NULL,
	revoked_at    bigint,
	revoke_reason text NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user_created ON sessions(user_id, created_at);
CREATE INDEX sessions_expires ON sessions(expires_at);

-- The revocation feed. seq is not a sequence: a bigserial is taken at
-- insert and transactions commit in any order, so a follower could read
-- seq 2 before seq 1 commits and never see seq 1. Each revoking
-- transaction instead takes the next numbers from revocation_seq with an
-- UPDATE, whose row lock it holds until it commits: numbers are assigned
-- in commit order (the feed ordering contract on store.Revocation), and
-- revocation_seq.last is the high-water mark that deleting old entries
-- never moves back.
CREATE TABLE revocations (
	seq        bigint PRIMARY KEY,
	session_id text NOT NULL,
	user_id    text NOT NULL,
	at         bigint NOT NULL,
	reason     text NOT NULL
);
CREATE INDEX revocations_at ON revocations(at);

CREATE TABLE revocation_seq (
	one  boolean PRIMARY KEY DEFAULT true CHECK (one),
	last bigint NOT NULL
);
INSERT INTO revocation_seq (one, last) VALUES (true, 0);
