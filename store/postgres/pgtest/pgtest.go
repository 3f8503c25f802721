package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultURL is the server tests use unless TESSERA_TEST_POSTGRES names
// another: the machine's PostgreSQL, trust authentication, database test.
const DefaultURL = "postgres://127.0.0.1:5432/test"

// ServerURL returns the test server's URL, or skips t with a visible
// message if it cannot be reached; with CI=true it fails t instead, so
// CI never passes by skipping the PostgreSQL tests.
func ServerURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("TESSERA_TEST_POSTGRES")
	if u == "" {
		u = DefaultURL
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL at %s (TESSERA_TEST_POSTGRES): %v; CI=true runs these tests, never skips them", redact(u), err)
		}
		t.Skipf("SKIP: no PostgreSQL at %s (set TESSERA_TEST_POSTGRES; CI=true fails instead): %v", redact(u), err)
	}
	conn.Close(ctx)
	return u
}

// URL returns the URL of a fresh, empty schema on the test server: its
// own schema, named at random, made the search_path of every connection
// through the URL, and dropped when t ends. Parallel tests and parallel
// runs never share one.
func URL(t testing.TB) string {
	t.Helper()
	server := ServerURL(t)
	var b [8]byte
	rand.Read(b[:])
	schema := "tessera_test_" + hex.EncodeToString(b[:])
	exec(t, server, "CREATE SCHEMA "+schema)
	t.Cleanup(func() { exec(t, server, "DROP SCHEMA "+schema+" CASCADE") })
	u, err := url.Parse(server)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Exec runs one statement on the database u names, as another program would.
func Exec(t testing.TB, u, query string, args ...any) {
	t.Helper()
	exec(t, u, query, args...)
}

func exec(t testing.TB, u, query string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, query, args...); err != nil {
		t.Fatalf("postgres: %s: %v", query, err)
	}
}

func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
