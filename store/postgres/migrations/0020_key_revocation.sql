-- Emergency key revocation: a revoked key is retired at once and never
-- published again, and its feed entry (kid) tells every verifier to drop it.
ALTER TABLE signing_keys ADD COLUMN revoked_at bigint;
ALTER TABLE revocations ADD COLUMN kid text NOT NULL DEFAULT '';
