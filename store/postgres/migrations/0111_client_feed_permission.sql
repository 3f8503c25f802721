-- Reading the revocation feed is a permission of verifier clients, as
-- introspection is (0022). Clients that existed before it keep it (they
-- may be following the feed today); new ones get it only when registered
-- with it. A public client cannot authenticate to the feed: it never has it.
ALTER TABLE clients ADD COLUMN revocation_feed boolean NOT NULL DEFAULT true;
UPDATE clients SET revocation_feed = false WHERE secret_hash IS NULL;
