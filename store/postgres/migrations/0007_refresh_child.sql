-- A rotated token names its successor instead of every successor naming its
-- parent: the rotation already updates the parent's row, so the link costs
-- no extra index.
ALTER TABLE refresh_tokens ADD COLUMN child bytea;
UPDATE refresh_tokens AS r SET child = c.token_hash
	FROM refresh_tokens AS c WHERE c.parent = r.token_hash AND r.used_at IS NOT NULL;
DROP INDEX refresh_tokens_parent;
ALTER TABLE refresh_tokens DROP COLUMN parent;
-- A successor replaced by a grace retry stays as a tombstone: whoever
-- presents it afterwards holds a token the family has moved past, which is
-- reuse, not an unknown token.
ALTER TABLE refresh_tokens ADD COLUMN superseded boolean NOT NULL DEFAULT false;
