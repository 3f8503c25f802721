package sqlite

import (
	"context"
	"database/sql"
)

// ExecForTest runs one statement on the database at path, beside any
// open Store or Migrator, as another program would.
func ExecForTest(ctx context.Context, path, query string, args ...any) error {
	db, err := sql.Open("sqlite", dsn(path, "FULL"))
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, query, args...)
	return err
}

// MigrationVersionsForTest lists the embedded migrations' versions, in
// order; gaps are allowed (helpers are assigned number ranges).
func MigrationVersionsForTest() []int {
	var vs []int
	for _, m := range migrations {
		vs = append(vs, m.Version)
	}
	return vs
}
