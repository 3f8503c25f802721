-- Access tokens (by jti) revoked before their expiry, and their feed entries.
CREATE TABLE denied_tokens (
	jti        TEXT PRIMARY KEY,
	expires_at INTEGER NOT NULL
);
CREATE INDEX denied_tokens_expires ON denied_tokens(expires_at);
ALTER TABLE revocations ADD COLUMN jti TEXT NOT NULL DEFAULT '';
ALTER TABLE revocations ADD COLUMN expires_at INTEGER NOT NULL DEFAULT 0;
