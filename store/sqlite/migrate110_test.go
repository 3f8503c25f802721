package sqlite

import (
	"context"
	"testing"
)

// TestMigrateClientMarks: clients registered before migrations 110 and 111
// are third party (only an administrator marks a client first party),
// and the confidential ones keep reading the revocation feed (verifiers
// following it today keep working); a public client cannot authenticate
// to the feed, so it never has the permission.
func TestMigrateClientMarks(t *testing.T) {
	ctx := context.Background()
	s := remigrated(t,
		"DELETE FROM schema_migrations WHERE version IN (110, 111)",
		"ALTER TABLE clients DROP COLUMN first_party",
		"ALTER TABLE clients DROP COLUMN revocation_feed",
		"INSERT INTO clients (id, name, secret_hash, grants, scopes, token_format, created_at) VALUES ('rs', 'old-rs', x'01', 'client_credentials', '', 'jwt', 0)",
		"INSERT INTO clients (id, name, secret_hash, grants, scopes, token_format, created_at) VALUES ('spa', 'old-spa', NULL, 'refresh_token', '', 'jwt', 0)",
	)
	rs, err := s.ClientByID(ctx, "rs")
	if err != nil || rs.FirstParty || !rs.RevocationFeed {
		t.Fatalf("confidential client after migration: %+v, %v", rs, err)
	}
	spa, err := s.ClientByID(ctx, "spa")
	if err != nil || spa.FirstParty || spa.RevocationFeed {
		t.Fatalf("public client after migration: %+v, %v", spa, err)
	}
}

// TestMigratePublicClientsNoIntrospect: migration 0022 gave public
// clients that existed before it the introspection permission, which no
// public client may hold (an update of one failed validation); 0170
// takes it away and leaves confidential clients theirs.
func TestMigratePublicClientsNoIntrospect(t *testing.T) {
	ctx := context.Background()
	s := remigrated(t,
		"DELETE FROM schema_migrations WHERE version = 170",
		"INSERT INTO clients (id, name, secret_hash, grants, scopes, token_format, created_at, introspect) VALUES ('rs', 'old-rs', x'01', 'client_credentials', '', 'jwt', 0, 1)",
		"INSERT INTO clients (id, name, secret_hash, grants, scopes, token_format, created_at, introspect) VALUES ('spa', 'old-spa', NULL, 'refresh_token', '', 'jwt', 0, 1)",
	)
	if rs, err := s.ClientByID(ctx, "rs"); err != nil || !rs.Introspect {
		t.Fatalf("confidential client after migration: %+v, %v", rs, err)
	}
	if spa, err := s.ClientByID(ctx, "spa"); err != nil || spa.Introspect {
		t.Fatalf("public client after migration: %+v, %v", spa, err)
	}
}
