-- One row that readiness checks and the start-up check write to learn
-- whether the store can still commit (store/readiness). A probe also
-- writes and clears pad, so it needs free space as a real write does.
CREATE TABLE write_probe (id INTEGER PRIMARY KEY, at INTEGER NOT NULL, pad BLOB);
