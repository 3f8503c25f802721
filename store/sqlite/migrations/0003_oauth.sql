CREATE TABLE clients (
	id           TEXT PRIMARY KEY,
	name         TEXT NOT NULL UNIQUE,
	secret_hash  BLOB,             -- keyed hash of the secret; NULL for a public client
	grants       TEXT NOT NULL,    -- space-separated grant types
	scopes       TEXT NOT NULL,    -- space-separated allowed scopes
	token_format TEXT NOT NULL,
	created_at   INTEGER NOT NULL
);

-- Rotating refresh tokens; a session is their family.
CREATE TABLE refresh_tokens (
	token_hash BLOB PRIMARY KEY,
	session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
	client_id  TEXT NOT NULL,
	scope      TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	used_at    INTEGER           -- set when rotated; presenting it again is reuse
);
CREATE INDEX refresh_tokens_session ON refresh_tokens(session_id);
CREATE INDEX refresh_tokens_expires ON refresh_tokens(expires_at);
