-- Opaque access tokens, for clients that prefer introspection to JWTs.
CREATE TABLE access_tokens (
	token_hash bytea PRIMARY KEY,
	jti        text NOT NULL UNIQUE,
	client_id  text NOT NULL,
	subject    text NOT NULL,
	scope      text NOT NULL,
	session_id text NOT NULL,   -- '' for client_credentials
	created_at bigint NOT NULL,
	expires_at bigint NOT NULL
);
CREATE INDEX access_tokens_expires ON access_tokens(expires_at);
