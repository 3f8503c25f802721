-- Client lifecycle (issue 11): RFC 7591 metadata kept for later OIDC work
-- (redirect URIs, space-separated; the token endpoint auth method), and
-- secret rotation with an overlap: the previous secret's keyed hash stays
-- valid until old_secret_until (microseconds since the Unix epoch, UTC).
ALTER TABLE clients ADD COLUMN redirect_uris text NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN auth_method text NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN old_secret_hash bytea;
ALTER TABLE clients ADD COLUMN old_secret_until bigint;
CREATE INDEX refresh_tokens_client ON refresh_tokens(client_id);
CREATE INDEX access_tokens_client ON access_tokens(client_id);
