package revocation

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/tessera-auth/tessera/store"
)

// DenyMargin keeps a revocation in force beyond its token's expiry: at
// least the verifiers' clock-skew leeway (accesstoken's default 30 s),
// during which an expired token would otherwise verify again.
const DenyMargin = time.Minute

// MaxWait is the longest a long poll may wait for a new entry.
const MaxWait = 30 * time.Second

// pageSize is how many entries one read returns at most.
const pageSize = 1000

// Errors callers branch on.
var (
	// ErrBadCursor: the cursor is not one the feed hands out.
	ErrBadCursor = errors.New("revocation: malformed cursor")
	// ErrCursorAhead: the cursor is past the newest entry, so it comes from
	// another database (a restored backup, a reset). Its follower would
	// skip every revocation numbered up to it: it must start over from a
	// read without a cursor.
	ErrCursorAhead = errors.New("revocation: cursor is ahead of the feed")
)

// Permits reports whether client c may read the feed: a permission of
// verifier clients (store.Client.RevocationFeed) that an administrator
// grants, as introspection is a resource server's. The feed lists every
// session, token and key revoked on the server: what a verifier needs to
// refuse tokens, and a live view of logouts and theft signals that no
// other client needs. A public client cannot authenticate, so never.
func Permits(c store.Client) bool { return c.RevocationFeed && c.SecretHash != nil }

// Until is when entry r stops mattering to a verifier. A denial matters
// until its token expires; a session revocation until the last access
// token minted for the session expires, at most accessTTL after it; a key
// revocation until its ExpiresAt (see store.Revocation). All add
// DenyMargin: verifiers accept a token for their leeway past exp.
func Until(r store.Revocation, accessTTL time.Duration) time.Time {
	if r.JTI == "" && r.KID == "" {
		return r.At.Add(accessTTL + DenyMargin)
	}
	return r.ExpiresAt.Add(DenyMargin)
}

// ParseCursor parses a cursor an earlier page handed out.
func ParseCursor(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, ErrBadCursor
	}
	return n, nil
}

// FeedStore is what serving the feed reads.
type FeedStore interface {
	Revocations(ctx context.Context, after int64, limit int) ([]store.Revocation, error)
	ActiveRevocations(ctx context.Context, sessionsSince, now time.Time) ([]store.Revocation, error)
	LastRevocationSeq(ctx context.Context) (int64, error)
}

// FeedConfig is what serving the feed needs to know.
type FeedConfig struct {
	// AccessTTL is the longest access-token lifetime: how long a revoked
	// session's tokens may still be presented.
	AccessTTL time.Duration
	// Poll bounds how long a long poll waits before it re-reads the store
	// without a notification: the delay for a revocation committed by a
	// process that did not notify this one. Zero means 1 s.
	Poll time.Duration
	// Now is the clock for entry windows; nil means time.Now.
	Now func() time.Time
}

// Entry is one feed entry as a follower sees it.
type Entry struct {
	store.Revocation
	// Until is when the entry stops mattering (see Until).
	Until time.Time
}

// Page is one answer of the feed: entries in Seq order and the cursor to
// read after them.
type Page struct {
	Cursor  int64
	Entries []Entry
}

// Feed serves the revocation feed to followers (verifiers, the SDK). Safe
// for concurrent use.
type Feed struct {
	st   FeedStore
	wake Notifier
	cfg  FeedConfig
	now  func() time.Time

	// draining is closed by Drain: long polls answer at once.
	draining  chan struct{}
	drainOnce sync.Once
}

// NewFeed returns the feed over st. A long poll wakes when wake's Changed
// channel closes: give it this node's Follower, which closes it at every
// revocation this process commits or learns of.
func NewFeed(st FeedStore, wake Notifier, cfg FeedConfig) *Feed {
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	f := &Feed{st: st, wake: wake, cfg: cfg, now: cfg.Now, draining: make(chan struct{})}
	if f.now == nil {
		f.now = time.Now
	}
	return f
}

// Window is the first read of a fresh follower: every entry that can
// still matter, including those within DenyMargin past their Until
// without it, and the cursor to follow from.
func (f *Feed) Window(ctx context.Context) (Page, error) {
	now := f.now()
	cursor, err := f.st.LastRevocationSeq(ctx)
	if err != nil {
		return Page{}, fmt.Errorf("revocation: read feed: %w", err)
	}
	revs, err := f.st.ActiveRevocations(ctx, now.Add(-f.cfg.AccessTTL-DenyMargin), now.Add(-DenyMargin))
	if err != nil {
		return Page{}, fmt.Errorf("revocation: read feed: %w", err)
	}
	return f.page(cursor, revs), nil
}

// Read returns the entries after cursor since. If there are none it
// waits up to wait for one (long poll): woken at once by a notification,
// and re-reading every Poll for revocations nobody notified. A cursor
// ahead of the feed is ErrCursorAhead; if ctx ends while waiting, Read
// returns ctx.Err().
func (f *Feed) Read(ctx context.Context, since int64, wait time.Duration) (Page, error) {
	if since < 0 {
		return Page{}, ErrBadCursor
	}
	deadline := time.Now().Add(wait)
	cursor := since
	for first := true; ; first = false {
		woken := f.wake.Changed()
		revs, err := f.st.Revocations(ctx, cursor, pageSize)
		if err != nil {
			return Page{}, fmt.Errorf("revocation: read feed: %w", err)
		}
		if len(revs) == 0 && first && since > 0 {
			last, err := f.st.LastRevocationSeq(ctx)
			if err != nil {
				return Page{}, fmt.Errorf("revocation: read feed: %w", err)
			}
			if since > last {
				return Page{}, ErrCursorAhead
			}
		}
		p := f.page(cursor, revs)
		if len(p.Entries) > 0 || !time.Now().Before(deadline) || f.isDraining() {
			return p, nil
		}
		// Only entries that revoke nothing (EvictOnly): the cursor moves
		// past them, and the poll goes on as if there had been none.
		cursor = p.Cursor
		if len(revs) == pageSize {
			continue
		}
		t := time.NewTimer(min(f.cfg.Poll, time.Until(deadline)))
		select {
		case <-ctx.Done():
			t.Stop()
			return Page{}, ctx.Err()
		case <-f.draining:
			// Read once more: an answer is a true page, so the
			// follower's next poll (to another node) misses nothing.
		case <-woken:
		case <-t.C:
		}
		t.Stop()
	}
}

// Drain answers every long poll waiting in Read now, with what the feed
// holds, and makes later ones answer without waiting: call it when the
// server shuts down (http.Server.RegisterOnShutdown), so followers reconnect
// to another node at once instead of holding the shutdown for up to
// MaxWait and then being cut off. Safe to call more than once.
func (f *Feed) Drain() { f.drainOnce.Do(func() { close(f.draining) }) }

func (f *Feed) isDraining() bool {
	select {
	case <-f.draining:
		return true
	default:
		return false
	}
}

// page is revs as followers see them. An EvictOnly entry (a step-up
// mark) revokes nothing: it moves the cursor, but is never served, or a
// verifier that does not know the flag (the SDK, any version) would read
// it as the session's revocation.
func (f *Feed) page(cursor int64, revs []store.Revocation) Page {
	p := Page{Entries: make([]Entry, 0, len(revs))}
	for _, r := range revs {
		cursor = max(cursor, r.Seq)
		if r.EvictOnly {
			continue
		}
		p.Entries = append(p.Entries, Entry{Revocation: r, Until: Until(r, f.cfg.AccessTTL)})
	}
	p.Cursor = cursor
	return p
}
