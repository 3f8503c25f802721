-- Each rotated token's successor names it, so a grace retry can tell whether
-- the successor was already used and replace it rather than fork the family.
ALTER TABLE refresh_tokens ADD COLUMN parent bytea;
CREATE INDEX refresh_tokens_parent ON refresh_tokens(parent);
