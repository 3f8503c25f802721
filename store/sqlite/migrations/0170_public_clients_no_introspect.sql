-- 0022 gave every client that existed before it the introspection
-- permission, public ones included, though a public client can neither
-- authenticate to introspect nor be registered with it: any later update
-- of such a client failed validation. Public clients never have it.
UPDATE clients SET introspect = 0 WHERE secret_hash IS NULL;
