-- Access tokens (by jti) revoked before their expiry, and their feed entries.
CREATE TABLE denied_tokens (
	jti        text PRIMARY KEY,
	expires_at bigint NOT NULL
);
CREATE INDEX denied_tokens_expires ON denied_tokens(expires_at);
ALTER TABLE revocations ADD COLUMN jti text NOT NULL DEFAULT '';
ALTER TABLE revocations ADD COLUMN expires_at bigint NOT NULL DEFAULT 0;
