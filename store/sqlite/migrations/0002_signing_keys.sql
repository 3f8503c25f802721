CREATE TABLE signing_keys (
	id           TEXT PRIMARY KEY,
	alg          TEXT NOT NULL,
	state        TEXT NOT NULL CHECK (state IN ('next', 'active', 'retired')),
	created_at   INTEGER NOT NULL,
	activated_at INTEGER,
	retired_at   INTEGER,
	public_jwk   BLOB NOT NULL,
	private_jwe  TEXT NOT NULL
);
-- At most one active and one next key, enforced by the database itself.
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys(state) WHERE state IN ('active', 'next');
