-- Alerts (package alert, docs/webhooks.md): each stored alert, its
-- webhook outbox (one row per alert and webhook, written in the alert's
-- transaction) and the delivery log (one row per attempt).
CREATE TABLE alerts (
	seq        INTEGER PRIMARY KEY AUTOINCREMENT,
	id         TEXT NOT NULL UNIQUE,
	at         INTEGER NOT NULL, -- unix microseconds
	rule       TEXT NOT NULL,
	severity   TEXT NOT NULL,
	action     TEXT NOT NULL,
	user_id    TEXT NOT NULL,
	session_id TEXT NOT NULL,
	client_id  TEXT NOT NULL,
	ip         TEXT NOT NULL,
	evidence   TEXT NOT NULL
);
CREATE INDEX alerts_user ON alerts (user_id, seq) WHERE user_id <> '';
CREATE INDEX alerts_session ON alerts (session_id, seq) WHERE session_id <> '';
CREATE INDEX alerts_at ON alerts (at);
CREATE TABLE webhook_deliveries (
	id           TEXT PRIMARY KEY,
	alert_id     TEXT NOT NULL,
	webhook      TEXT NOT NULL,
	body         BLOB NOT NULL,
	created_at   INTEGER NOT NULL,
	status       TEXT NOT NULL,
	attempts     INTEGER NOT NULL DEFAULT 0,
	next_at      INTEGER NOT NULL,
	lease_holder TEXT NOT NULL DEFAULT '',
	lease_until  INTEGER NOT NULL DEFAULT 0,
	last_error   TEXT NOT NULL DEFAULT '',
	updated_at   INTEGER NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_alert ON webhook_deliveries (alert_id);
CREATE TABLE webhook_attempts (
	seq         INTEGER PRIMARY KEY AUTOINCREMENT,
	delivery_id TEXT NOT NULL,
	alert_id    TEXT NOT NULL,
	webhook     TEXT NOT NULL,
	attempt     INTEGER NOT NULL,
	at          INTEGER NOT NULL,
	status_code INTEGER NOT NULL,
	error       TEXT NOT NULL,
	duration_us INTEGER NOT NULL,
	outcome     TEXT NOT NULL
);
CREATE INDEX webhook_attempts_alert ON webhook_attempts (alert_id, seq);
CREATE INDEX webhook_attempts_at ON webhook_attempts (at);
