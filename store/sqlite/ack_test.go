package sqlite

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/oauth"
	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/store/storetest"
)

// TestAcknowledgedMeansSynced: with a disk whose fsync fails, every write
// that is acknowledged to a caller (and every feed read, whose entries
// followers act on) must report the failure. A write path that skipped the
// group-commit wait would return nil here, and a crash could then lose a
// revocation the caller was told had happened.
func TestAcknowledgedMeansSynced(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	sess := aliceSession(t, "s1", now)
	refresh := store.RefreshToken{Hash: storetest.NewHash(t), SessionID: "s1", ClientID: "app", Scope: "read", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	// setup runs with a healthy disk; op runs after fsync starts failing.
	for _, tt := range []struct {
		name  string
		setup func(*Store) error
		op    func(*Store) error
	}{
		{"CreateUser", nil, func(s *Store) error {
			return s.CreateUser(ctx, store.User{ID: "u2", Username: "bob", CreatedAt: now})
		}},
		{"SetPasswordHash", nil, func(s *Store) error { return s.SetPasswordHash(ctx, "u1", "$argon2id$x", now) }},
		{"CreateSession", nil, func(s *Store) error {
			_, err := s.CreateSession(ctx, sess, store.CreateOptions{})
			return err
		}},
		{"RevokeSession", createSession(sess), func(s *Store) error {
			_, err := s.RevokeSession(ctx, "s1", now, "logout")
			return err
		}},
		{"RevokeUserSessions", createSession(sess), func(s *Store) error {
			_, err := s.RevokeUserSessions(ctx, "u1", "", now, "logout_all")
			return err
		}},
		{"DenyAccessToken", nil, func(s *Store) error { return s.DenyAccessToken(ctx, "jti-1", "u1", now.Add(time.Hour), now, "revoked") }},
		{"CreateClient", nil, func(s *Store) error {
			return s.CreateClient(ctx, store.Client{ID: "c1", Name: "c", TokenFormat: "jwt", CreatedAt: now})
		}},
		{"CreateRefreshToken", createSession(sess), func(s *Store) error { return s.CreateRefreshToken(ctx, refresh) }},
		{"RotateRefreshToken", func(s *Store) error {
			if err := createSession(sess)(s); err != nil {
				return err
			}
			return s.CreateRefreshToken(ctx, refresh)
		}, func(s *Store) error {
			_, err := s.RotateRefreshToken(ctx, refresh.Hash, storetest.Decide(oauth.Presentation{ClientID: "app", Successor: storetest.NewHash(t), Now: now, TTL: time.Hour}))
			return err
		}},
		{"CreateAccessToken", nil, func(s *Store) error {
			return s.CreateAccessToken(ctx, store.AccessToken{Hash: storetest.NewHash(t), ID: "jti-2", ClientID: "c1", Subject: "c1", CreatedAt: now, ExpiresAt: now.Add(time.Hour)})
		}},
		{"Revocations", func(s *Store) error { return s.DenyAccessToken(ctx, "jti-1", "u1", now.Add(time.Hour), now, "revoked") },
			func(s *Store) error {
				_, err := s.Revocations(ctx, 0, 10)
				return err
			}},
		{"ActiveRevocations", func(s *Store) error { return s.DenyAccessToken(ctx, "jti-1", "u1", now.Add(time.Hour), now, "revoked") },
			func(s *Store) error {
				_, err := s.ActiveRevocations(ctx, now.Add(-time.Hour), now)
				return err
			}},
		{"LastRevocationSeq", func(s *Store) error { return s.DenyAccessToken(ctx, "jti-1", "u1", now.Add(time.Hour), now, "revoked") },
			func(s *Store) error {
				_, err := s.LastRevocationSeq(ctx)
				return err
			}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(ctx, filepath.Join(t.TempDir(), "t.db"), Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if err := s.CreateUser(ctx, store.User{ID: "u1", Username: "alice", CreatedAt: now}); err != nil {
				t.Fatal(err)
			}
			if tt.setup != nil {
				if err := tt.setup(s); err != nil {
					t.Fatal(err)
				}
			}
			disk := errors.New("disk on fire")
			s.wal.mu.Lock()
			s.wal.fsyncFn = func() error { return disk }
			s.wal.mu.Unlock()
			if err := tt.op(s); !errors.Is(err, disk) {
				t.Fatalf("acknowledged without a good fsync: err = %v", err)
			}
			// And the store says it is not ready (readyz pings it).
			if err := s.Ping(ctx); !errors.Is(err, disk) {
				t.Fatalf("Ping after a failed fsync: %v, want the failure", err)
			}
		})
	}
}

func createSession(sess store.Session) func(*Store) error {
	return func(s *Store) error {
		_, err := s.CreateSession(context.Background(), sess, store.CreateOptions{})
		return err
	}
}
