-- What the nodes sharing this store agree on: settings fixed for the
-- cluster (issuer, public origin), and leases that let one node at a time
-- run the background work the cluster needs once.
CREATE TABLE cluster_settings (
	name  TEXT PRIMARY KEY,
	value TEXT NOT NULL
);
CREATE TABLE leases (
	name       TEXT PRIMARY KEY,
	holder     TEXT NOT NULL,
	expires_at INTEGER NOT NULL -- unix microseconds
);
