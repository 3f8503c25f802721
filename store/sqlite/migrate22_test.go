package sqlite

import (
	"context"
	"testing"
)

// TestMigrateKeepsIntrospection: clients registered before introspection
// became a permission (migration 22) keep it, so resource servers that
// introspect today keep working; new registrations start without it.
func TestMigrateKeepsIntrospection(t *testing.T) {
	s := remigrated(t,
		"DELETE FROM schema_migrations WHERE version = 22",
		"ALTER TABLE clients DROP COLUMN introspect",
		"ALTER TABLE clients DROP COLUMN resources",
		"ALTER TABLE clients DROP COLUMN audience",
		"INSERT INTO clients (id, name, secret_hash, grants, scopes, token_format, created_at) VALUES ('old', 'old-rs', x'01', 'client_credentials', '', 'jwt', 0)",
	)
	c, err := s.ClientByID(context.Background(), "old")
	if err != nil || !c.Introspect || c.Resources != nil || c.Audience != "" {
		t.Fatalf("existing client after migration 22: %+v, %v", c, err)
	}
}
