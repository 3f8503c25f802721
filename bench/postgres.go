package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgSchema creates a schema of its own on the PostgreSQL server at
// server and returns a store URL whose connections use it, and a func
// that drops it.
func pgSchema(ctx context.Context, server string) (string, func(), error) {
	var b [6]byte
	rand.Read(b[:])
	schema := "tessera_bench_" + hex.EncodeToString(b[:])
	exec := func(ctx context.Context, sql string) error {
		conn, err := pgx.Connect(ctx, server)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, sql)
		return err
	}
	if err := exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		return "", nil, fmt.Errorf("bench: postgres schema: %w", err)
	}
	drop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
	}
	u, err := url.Parse(server)
	if err != nil {
		drop()
		return "", nil, fmt.Errorf("bench: postgres URL: %w", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), drop, nil
}
