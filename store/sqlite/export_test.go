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

// VersionsForTest returns the embedded migrations' versions, in order
// (numbers may have gaps: helpers work on assigned ranges).
func VersionsForTest() []int {
	var vs []int
	for _, m := range migrations {
		vs = append(vs, m.Version)
	}
	return vs
}
