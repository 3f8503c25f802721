-- Alerts (package alert, docs/webhooks.md): each stored alert, its
-- webhook outbox (one row per alert and webhook, written in the alert's
-- transaction) and the delivery log (one row per attempt).
CREATE TABLE alerts (
	seq        bigserial PRIMARY KEY,
	id         text NOT NULL UNIQUE,
	at         bigint NOT NULL, -- unix microseconds
	rule       text NOT NULL,
	severity   text NOT NULL,
	action     text NOT NULL,
	user_id    text NOT NULL,
	session_id text NOT NULL,
	client_id  text NOT NULL,
	ip         text NOT NULL,
	evidence   text NOT NULL
);
CREATE INDEX alerts_user ON alerts (user_id, seq) WHERE user_id <> '';
CREATE INDEX alerts_session ON alerts (session_id, seq) WHERE session_id <> '';
CREATE INDEX alerts_at ON alerts (at);
CREATE TABLE webhook_deliveries (
	id           text PRIMARY KEY,
	alert_id     text NOT NULL,
	webhook      text NOT NULL,
	body         bytea NOT NULL,
	created_at   bigint NOT NULL,
	status       text NOT NULL,
	attempts     bigint NOT NULL DEFAULT 0,
	next_at      bigint NOT NULL,
	lease_holder text NOT NULL DEFAULT '',
	lease_until  bigint NOT NULL DEFAULT 0,
	last_error   text NOT NULL DEFAULT '',
	updated_at   bigint NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_alert ON webhook_deliveries (alert_id);
CREATE TABLE webhook_attempts (
	seq         bigserial PRIMARY KEY,
	delivery_id text NOT NULL,
	alert_id    text NOT NULL,
	webhook     text NOT NULL,
	attempt     bigint NOT NULL,
	at          bigint NOT NULL,
	status_code bigint NOT NULL,
	error       text NOT NULL,
	duration_us bigint NOT NULL,
	outcome     text NOT NULL
);
CREATE INDEX webhook_attempts_alert ON webhook_attempts (alert_id, seq);
CREATE INDEX webhook_attempts_at ON webhook_attempts (at);
