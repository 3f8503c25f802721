-- Second factors (issue 9). Secrets are sealed under the master key;
-- recovery codes and mfa_tokens are stored as SHA-256 hashes only.
CREATE TABLE mfa_totp (
	user_id       text PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
	sealed_secret text NOT NULL,
	created_at    bigint NOT NULL,
	confirmed_at  bigint,          -- NULL while the enrollment is pending
	last_step     bigint NOT NULL  -- RFC 6238 step of the last accepted code
);

CREATE TABLE mfa_recovery_codes (
	user_id    text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	code_hash  bytea NOT NULL,
	created_at bigint NOT NULL,
	used_at    bigint,
	PRIMARY KEY (user_id, code_hash)
);

-- Logins whose password was accepted and whose second factor is awaited.
CREATE TABLE mfa_challenges (
	token_hash bytea PRIMARY KEY,
	user_id    text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	delivery   text NOT NULL,
	client_id  text NOT NULL,
	amr        text NOT NULL,
	created_at bigint NOT NULL,
	expires_at bigint NOT NULL,
	attempts   bigint NOT NULL,
	used_at    bigint
);
CREATE INDEX mfa_challenges_expires ON mfa_challenges(expires_at);
CREATE INDEX mfa_challenges_user ON mfa_challenges(user_id);
