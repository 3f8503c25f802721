-- A rotated token names its successor instead of every successor naming its
-- parent: the rotation already updates the parent's row, so the link costs
-- no extra index, and every rotation writes one B-tree page fewer.
ALTER TABLE refresh_tokens ADD COLUMN child BLOB;
UPDATE refresh_tokens SET child = (
	SELECT c.token_hash FROM refresh_tokens AS c WHERE c.parent = refresh_tokens.token_hash
) WHERE used_at IS NOT NULL;
DROP INDEX refresh_tokens_parent;
ALTER TABLE refresh_tokens DROP COLUMN parent;
-- A successor replaced by a grace retry stays as a tombstone: whoever
-- presents it afterwards holds a token the family has moved past, which is
-- reuse, not an unknown token.
ALTER TABLE refresh_tokens ADD COLUMN superseded INTEGER NOT NULL DEFAULT 0;
