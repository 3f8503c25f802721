-- One row that readiness checks and the start-up check write to learn
-- whether the store can still commit (store/readiness).
CREATE TABLE write_probe (id integer PRIMARY KEY, at bigint NOT NULL, pad bytea);
