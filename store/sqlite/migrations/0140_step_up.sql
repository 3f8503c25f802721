-- Step-up marks (session.Manager.RequireStepUp): a marked session must
-- re-authenticate before its next sensitive use. Its feed entry only
-- evicts cached copies of the session; it is no revocation, and the public
-- feed (GET /v1/revocations) never serves it.
ALTER TABLE sessions ADD COLUMN step_up_at INTEGER;
ALTER TABLE revocations ADD COLUMN evict_only INTEGER NOT NULL DEFAULT 0;
