-- What the nodes sharing this store agree on: settings fixed for the
-- cluster (issuer, public origin), and leases that let one node at a time
-- run the background work the cluster needs once.
CREATE TABLE cluster_settings (
	name  text PRIMARY KEY,
	value text NOT NULL
);
CREATE TABLE leases (
	name       text PRIMARY KEY,
	holder     text NOT NULL,
	expires_at bigint NOT NULL -- unix microseconds
);
