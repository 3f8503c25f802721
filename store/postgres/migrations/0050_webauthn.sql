-- WebAuthn credentials and ceremonies (issue 9). Public keys only; a
-- ceremony is keyed by the SHA-256 of its challenge.
CREATE TABLE webauthn_credentials (
	id                 bytea PRIMARY KEY,
	user_id            text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	name               text NOT NULL,
	public_key         bytea NOT NULL,
	sign_count         bigint NOT NULL,
	transports         text NOT NULL,   -- comma-separated
	aaguid             bytea NOT NULL,
	attestation_format text NOT NULL,
	backup_eligible    boolean NOT NULL,
	backup_state       boolean NOT NULL,
	user_verified      boolean NOT NULL,
	clone_warning      boolean NOT NULL,
	created_at         bigint NOT NULL,
	last_used_at       bigint
);
CREATE INDEX webauthn_credentials_user ON webauthn_credentials(user_id);

CREATE TABLE webauthn_ceremonies (
	challenge_hash bytea PRIMARY KEY,
	kind           text NOT NULL,
	user_id        text NOT NULL,   -- '' for a passwordless login
	mfa_hash       bytea NOT NULL,
	name           text NOT NULL,
	state          bytea NOT NULL,
	created_at     bigint NOT NULL,
	expires_at     bigint NOT NULL
);
CREATE INDEX webauthn_ceremonies_expires ON webauthn_ceremonies(expires_at);
CREATE INDEX webauthn_ceremonies_user ON webauthn_ceremonies(user_id);
