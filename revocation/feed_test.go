package revocation

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/store"
)

func TestUntil(t *testing.T) {
	at := time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name string
		r    store.Revocation
		want time.Time
	}{
		// A revoked session's access tokens live at most AccessTTL more,
		// and verifiers accept them DenyMargin past exp.
		{"session", store.Revocation{SessionID: "s1", At: at}, at.Add(15*time.Minute + time.Minute)},
		// A denial matters until its token's own expiry, and the margin.
		{"denial", store.Revocation{JTI: "j1", At: at, ExpiresAt: at.Add(5 * time.Minute)}, at.Add(6 * time.Minute)},
	} {
		if got := Until(tt.r, 15*time.Minute); !got.Equal(tt.want) {
			t.Errorf("%s: Until = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestParseCursor(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "42": 42, "9223372036854775807": 1<<63 - 1} {
		if got, err := ParseCursor(in); err != nil || got != want {
			t.Errorf("ParseCursor(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "x", "1.5", "9223372036854775808", " 1"} {
		if _, err := ParseCursor(in); !errors.Is(err, ErrBadCursor) {
			t.Errorf("ParseCursor(%q): %v, want ErrBadCursor", in, err)
		}
	}
}

func TestFeed(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	fl := f.follower(nil, nil)
	feed := NewFeed(f.Store, fl, FeedConfig{AccessTTL: 15 * time.Minute, Now: f.Clock.Now})
	f.session(t, "s1")
	if _, err := f.Store.RevokeSession(ctx, "s1", f.Clock.Now(), "logout"); err != nil {
		t.Fatal(err)
	}
	if err := fl.Deny(ctx, "jti-1", f.User.ID, f.Clock.Now().Add(5*time.Minute), "token_revoked"); err != nil {
		t.Fatal(err)
	}
	p, err := feed.Window(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Entries) != 2 || p.Entries[0].SessionID != "s1" || p.Entries[1].JTI != "jti-1" || p.Cursor != p.Entries[1].Seq {
		t.Fatalf("Window = %+v", p)
	}
	if want := f.Clock.Now().Add(16 * time.Minute); !p.Entries[0].Until.Equal(want) {
		t.Fatalf("session entry until %v, want %v", p.Entries[0].Until, want)
	}
	// A fresh follower needs the session entry until its Until, DenyMargin
	// past the last access token of the session.
	f.Clock.Add(15*time.Minute + 30*time.Second)
	if p, err := feed.Window(ctx); err != nil || len(p.Entries) != 1 || p.Entries[0].SessionID != "s1" {
		t.Fatalf("Window within DenyMargin of the session entry's Until = %+v, %v", p, err)
	}
	// Past it, and past the denial's, it needs neither.
	f.Clock.Add(30*time.Second + time.Second)
	if p, err := feed.Window(ctx); err != nil || len(p.Entries) != 0 {
		t.Fatalf("Window after every Until = %+v, %v", p, err)
	}
	f.Clock.Add(-6 * time.Minute)
	if p, err := feed.Window(ctx); err != nil || len(p.Entries) != 1 || p.Entries[0].SessionID != "s1" {
		t.Fatalf("Window within the session entry's Until only = %+v, %v", p, err)
	}

	all, err := feed.Read(ctx, 0, 0)
	if err != nil || len(all.Entries) != 2 || all.Cursor != p.Cursor {
		t.Fatalf("Read(0) = %+v, %v", all, err)
	}
	// Nothing new: an immediate empty answer keeps the cursor.
	if p, err := feed.Read(ctx, all.Cursor, 0); err != nil || len(p.Entries) != 0 || p.Cursor != all.Cursor {
		t.Fatalf("Read(cursor) = %+v, %v", p, err)
	}
	if p, err := feed.Read(ctx, all.Entries[0].Seq, 0); err != nil || len(p.Entries) != 1 || p.Cursor != all.Cursor {
		t.Fatalf("Read(first seq) = %+v, %v", p, err)
	}
	// A cursor from a database this one is not (a restored backup): its
	// follower must start over rather than skip what is numbered below it.
	if _, err := feed.Read(ctx, all.Cursor+1, 0); !errors.Is(err, ErrCursorAhead) {
		t.Fatalf("Read past the feed: %v, want ErrCursorAhead", err)
	}
	if _, err := feed.Read(ctx, -1, 0); !errors.Is(err, ErrBadCursor) {
		t.Fatalf("Read(-1): %v, want ErrBadCursor", err)
	}
}
