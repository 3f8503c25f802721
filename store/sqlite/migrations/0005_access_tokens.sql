-- Opaque access tokens, for clients that prefer introspection to JWTs.
CREATE TABLE access_tokens (
	token_hash BLOB PRIMARY KEY,
	jti        TEXT NOT NULL UNIQUE,
	client_id  TEXT NOT NULL,
	subject    TEXT NOT NULL,
	scope      TEXT NOT NULL,
	session_id TEXT NOT NULL,   -- '' for client_credentials
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL
);
CREATE INDEX access_tokens_expires ON access_tokens(expires_at);
