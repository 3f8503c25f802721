CREATE TABLE signing_keys (
	id           text PRIMARY KEY,
	alg          text NOT NULL,
	state        text NOT NULL CHECK (state IN ('next', 'active', 'retired')),
	created_at   bigint NOT NULL,
	activated_at bigint,
	retired_at   bigint,
	public_jwk   bytea NOT NULL,
	private_jwe  text NOT NULL
);
-- At most one active and one next key, enforced by the database itself.
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys(state) WHERE state IN ('active', 'next');
