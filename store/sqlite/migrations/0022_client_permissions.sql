-- Introspection is a permission of resource-server clients. Clients that
-- existed before it keep it (they may be introspecting today); new ones get
-- it only when registered with it. A client may also be limited to the
-- RFC 8707 resources it may request tokens for, and name the resource
-- (audience) it serves itself.
ALTER TABLE clients ADD COLUMN introspect INTEGER NOT NULL DEFAULT 1;
ALTER TABLE clients ADD COLUMN resources TEXT NOT NULL DEFAULT '';  -- space-separated URIs
ALTER TABLE clients ADD COLUMN audience TEXT NOT NULL DEFAULT '';
