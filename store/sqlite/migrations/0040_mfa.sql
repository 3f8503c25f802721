-- Second factors (issue 9). Secrets are sealed under the master key;
-- recovery codes and mfa_tokens are stored as SHA-256 hashes only.
CREATE TABLE mfa_totp (
	user_id       TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
	sealed_secret TEXT NOT NULL,
	created_at    INTEGER NOT NULL,
	confirmed_at  INTEGER,          -- NULL while the enrollment is pending
	last_step     INTEGER NOT NULL  -- RFC 6238 step of the last accepted code
);

CREATE TABLE mfa_recovery_codes (
	user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	code_hash  BLOB NOT NULL,
	created_at INTEGER NOT NULL,
	used_at    INTEGER,
	PRIMARY KEY (user_id, code_hash)
);

-- Logins whose password was accepted and whose second factor is awaited.
CREATE TABLE mfa_challenges (
	token_hash BLOB PRIMARY KEY,
	user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	delivery   TEXT NOT NULL,
	client_id  TEXT NOT NULL,
	amr        TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	attempts   INTEGER NOT NULL,
	used_at    INTEGER
);
CREATE INDEX mfa_challenges_expires ON mfa_challenges(expires_at);
CREATE INDEX mfa_challenges_user ON mfa_challenges(user_id);
