package sqlite

import (
	"context"
	"path/filepath"
	"testing"
)

// TestMigrateKeepsIntrospection: clients registered before introspection
// became a permission (migration 22) keep it, so resource servers that
// introspect today keep working; new registrations start without it.
func TestMigrateKeepsIntrospection(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "m.db")
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"DELETE FROM schema_migrations WHERE version = 22",
		"ALTER TABLE clients DROP COLUMN introspect",
		"ALTER TABLE clients DROP COLUMN resources",
		"ALTER TABLE clients DROP COLUMN audience",
		"INSERT INTO clients (id, name, secret_hash, grants, scopes, token_format, created_at) VALUES ('old', 'old-rs', x'01', 'client_credentials', '', 'jwt', 0)",
	} {
		if _, err := s.w.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	s.Close()
	if s, err = Open(ctx, path, Options{}); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, err := s.ClientByID(ctx, "old")
	if err != nil || !c.Introspect || c.Resources != nil || c.Audience != "" {
		t.Fatalf("existing client after migration 22: %+v, %v", c, err)
	}
}
