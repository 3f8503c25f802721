CREATE TABLE clients (
	id           text PRIMARY KEY,
	name         text NOT NULL UNIQUE,
	secret_hash  bytea,            -- keyed hash of the secret; NULL for a public client
	grants       text NOT NULL,    -- space-separated grant types
	scopes       text NOT NULL,    -- space-separated allowed scopes
	token_format text NOT NULL,
	created_at   bigint NOT NULL
);

-- Rotating refresh tokens; a session is their family.
CREATE TABLE refresh_tokens (
	token_hash bytea PRIMARY KEY,
	session_id text NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
	client_id  text NOT NULL,
	scope      text NOT NULL,
	created_at bigint NOT NULL,
	expires_at bigint NOT NULL,
	used_at    bigint            -- set when rotated; presenting it again is reuse
);
CREATE INDEX refresh_tokens_session ON refresh_tokens(session_id);
CREATE INDEX refresh_tokens_expires ON refresh_tokens(expires_at);
