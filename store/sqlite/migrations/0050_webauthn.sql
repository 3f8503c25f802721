-- WebAuthn credentials and ceremonies (issue 9). Public keys only; a
-- ceremony is keyed by the SHA-256 of its challenge.
CREATE TABLE webauthn_credentials (
	id                 BLOB PRIMARY KEY,
	user_id            TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	name               TEXT NOT NULL,
	public_key         BLOB NOT NULL,
	sign_count         INTEGER NOT NULL,
	transports         TEXT NOT NULL,   -- comma-separated
	aaguid             BLOB NOT NULL,
	attestation_format TEXT NOT NULL,
	backup_eligible    INTEGER NOT NULL,
	backup_state       INTEGER NOT NULL,
	user_verified      INTEGER NOT NULL,
	clone_warning      INTEGER NOT NULL,
	created_at         INTEGER NOT NULL,
	last_used_at       INTEGER
);
CREATE INDEX webauthn_credentials_user ON webauthn_credentials(user_id);

CREATE TABLE webauthn_ceremonies (
	challenge_hash BLOB PRIMARY KEY,
	kind           TEXT NOT NULL,
	user_id        TEXT NOT NULL,   -- '' for a passwordless login
	mfa_hash       BLOB NOT NULL,
	name           TEXT NOT NULL,
	state          BLOB NOT NULL,
	created_at     INTEGER NOT NULL,
	expires_at     INTEGER NOT NULL
);
CREATE INDEX webauthn_ceremonies_expires ON webauthn_ceremonies(expires_at);
CREATE INDEX webauthn_ceremonies_user ON webauthn_ceremonies(user_id);
