-- User lifecycle (issue 11): a disabled account cannot log in; an erased
-- one keeps only its id (username replaced by a tombstone, no password
-- hash); an administrator's reset can require a new password at the next
-- login. Times are microseconds since the Unix epoch, UTC; NULL: not so.
ALTER TABLE users ADD COLUMN disabled_at INTEGER;
ALTER TABLE users ADD COLUMN must_change_password INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN deleted_at INTEGER;
