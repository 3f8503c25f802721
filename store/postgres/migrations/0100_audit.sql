-- The audit log (package audit, docs/audit.md): one keyed hash chain per
-- store. audit_head is the chain's end (one row, id 1), updated in the
-- transaction that appends; checkpoints are keyed statements of a
-- record's MAC (periodic, and "cut" where retention pruned).
CREATE TABLE audit_records (
	seq        bigint PRIMARY KEY,
	at         bigint NOT NULL, -- unix microseconds
	event      text NOT NULL,
	actor      text NOT NULL,
	user_id    text NOT NULL,
	session_id text NOT NULL,
	client_id  text NOT NULL,
	ip         text NOT NULL,
	user_agent text NOT NULL,
	outcome    text NOT NULL,
	details    text NOT NULL,
	node       text NOT NULL,
	mac        bytea NOT NULL
);
CREATE INDEX audit_records_user ON audit_records (user_id, seq) WHERE user_id <> '';
CREATE INDEX audit_records_session ON audit_records (session_id, seq) WHERE session_id <> '';
CREATE INDEX audit_records_at ON audit_records (at);
CREATE TABLE audit_head (
	id       integer PRIMARY KEY CHECK (id = 1),
	seq      bigint NOT NULL,
	mac      bytea,
	head_mac bytea
);
CREATE TABLE audit_checkpoints (
	seq  bigint NOT NULL,
	kind text NOT NULL,
	mac  bytea NOT NULL,
	at   bigint NOT NULL,
	node text NOT NULL,
	sig  bytea NOT NULL,
	PRIMARY KEY (seq, kind)
);
-- The head row exists from the start, so the first appends lock it too.
INSERT INTO audit_head (id, seq) VALUES (1, 0);
