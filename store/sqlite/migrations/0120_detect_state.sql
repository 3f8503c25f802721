-- Detection rules' shared state (package detect, store.DetectState) for a
-- cluster without Redis: observed sets, bucketed counts and one-time
-- claims. Each row may be deleted once its expires_at (a claim: until_at;
-- unix microseconds by the writers' clocks) has passed. Keys are the
-- rules' own, never a token.
CREATE TABLE detect_seen (
	key        TEXT NOT NULL,
	member     TEXT NOT NULL,
	first_at   INTEGER NOT NULL, -- unix microseconds
	last_at    INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	PRIMARY KEY (key, member)
);
CREATE INDEX detect_seen_last ON detect_seen (key, last_at);
CREATE INDEX detect_seen_expires ON detect_seen (expires_at);
CREATE TABLE detect_counts (
	key        TEXT NOT NULL,
	bucket     INTEGER NOT NULL,
	n          INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	PRIMARY KEY (key, bucket)
);
CREATE INDEX detect_counts_expires ON detect_counts (expires_at);
CREATE TABLE detect_claims (
	key        TEXT PRIMARY KEY,
	until_at   INTEGER NOT NULL -- the claim holds while at < until_at; then deletable
);
CREATE INDEX detect_claims_until ON detect_claims (until_at);
