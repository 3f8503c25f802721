-- A rotated token records a keyed hash of the network and user agent that
-- rotated it, and whether its one grace retry was spent: a retry is
-- forgiven only from the same origin, and only once.
ALTER TABLE refresh_tokens ADD COLUMN rotated_by BLOB;
ALTER TABLE refresh_tokens ADD COLUMN grace_used INTEGER NOT NULL DEFAULT 0;
