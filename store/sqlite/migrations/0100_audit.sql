-- The audit log (package audit, docs/audit.md): one keyed hash chain per
-- store. audit_head is the chain's end (one row, id 1), updated in the
-- transaction that appends; checkpoints are keyed statements of a
-- record's MAC (periodic, and "cut" where retention pruned).
CREATE TABLE audit_records (
	seq        INTEGER PRIMARY KEY,
	at         INTEGER NOT NULL, -- unix microseconds
	event      TEXT NOT NULL,
	actor      TEXT NOT NULL,
	user_id    TEXT NOT NULL,
	session_id TEXT NOT NULL,
	client_id  TEXT NOT NULL,
	ip         TEXT NOT NULL,
	user_agent TEXT NOT NULL,
	outcome    TEXT NOT NULL,
	details    TEXT NOT NULL,
	node       TEXT NOT NULL,
	mac        BLOB NOT NULL
);
CREATE INDEX audit_records_user ON audit_records (user_id, seq) WHERE user_id <> '';
CREATE INDEX audit_records_session ON audit_records (session_id, seq) WHERE session_id <> '';
CREATE INDEX audit_records_at ON audit_records (at);
CREATE TABLE audit_head (
	id       INTEGER PRIMARY KEY CHECK (id = 1),
	seq      INTEGER NOT NULL,
	mac      BLOB,
	head_mac BLOB
);
CREATE TABLE audit_checkpoints (
	seq  INTEGER NOT NULL,
	kind TEXT NOT NULL,
	mac  BLOB NOT NULL,
	at   INTEGER NOT NULL,
	node TEXT NOT NULL,
	sig  BLOB NOT NULL,
	PRIMARY KEY (seq, kind)
);
-- The head row exists from the start, so the first appends lock it too.
INSERT INTO audit_head (id, seq) VALUES (1, 0);
