package throttle

import (
	"context"
	"testing"
	"time"
)

// TestReset: Reset and ResetPrefix give a drained key its whole budget
// back, and leave other keys drained.
func TestReset(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := New(1, time.Hour, func() time.Time { return now })
	for _, k := range []string{"ann", "ann|192.0.2.1", "ann|192.0.2.2", "bob|192.0.2.1"} {
		l.Fail(ctx, k)
	}
	l.Reset(ctx, "ann")
	l.ResetPrefix(ctx, "ann|")
	for k, want := range map[string]bool{"ann": true, "ann|192.0.2.1": true, "ann|192.0.2.2": true, "bob|192.0.2.1": false} {
		if ok, _ := l.Allow(ctx, k); ok != want {
			t.Errorf("Allow(%q) = %v, want %v", k, ok, want)
		}
	}
}
