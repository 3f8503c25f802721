package store_test

import (
	"testing"
	"time"

	"github.com/tessera-auth/tessera/store"
)

// TestSessionLive: a session is live before its absolute expiry and its
// idle timeout, and not at either instant or once revoked.
func TestSessionLive(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s := store.Session{LastSeenAt: t0, IdleTimeout: time.Hour, ExpiresAt: t0.Add(2 * time.Hour)}
	for _, tt := range []struct {
		name string
		edit func(*store.Session)
		at   time.Time
		want bool
	}{
		{"fresh", nil, t0, true},
		{"just before idle", nil, t0.Add(time.Hour - time.Microsecond), true},
		{"idle", nil, t0.Add(time.Hour), false},
		{"seen later", func(s *store.Session) { s.LastSeenAt = t0.Add(90 * time.Minute) }, t0.Add(100 * time.Minute), true},
		{"expired", func(s *store.Session) { s.LastSeenAt = t0.Add(90 * time.Minute) }, t0.Add(2 * time.Hour), false},
		{"revoked", func(s *store.Session) { s.RevokedAt = t0 }, t0, false},
	} {
		s := s
		if tt.edit != nil {
			tt.edit(&s)
		}
		if got := s.Live(tt.at); got != tt.want {
			t.Errorf("%s: Live = %v, want %v", tt.name, got, tt.want)
		}
	}
}
