package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tessera-auth/tessera/protocol"
)

// maxFeedBody bounds one feed answer. The server sends at most 1000 entries
// per answer after a cursor (~200 KiB); the first, cursor-less answer holds
// every entry of the last access-token lifetime, so allow far more.
const maxFeedBody = 16 << 20

// RevocationsConfig configures a Revocations follower.
type RevocationsConfig struct {
	// URL is the feed, e.g. "https://auth.example.com/v1/revocations". Required.
	URL string
	// ClientID and ClientSecret are a confidential client's credentials,
	// sent with HTTP Basic. Required.
	ClientID, ClientSecret string
	// HTTPClient makes the requests. Default: a client whose timeout
	// exceeds PollWait by 15 s (the long poll must not time out).
	HTTPClient *http.Client
	// PollWait is the long-poll wait asked of the server (0 to 30 s).
	// Default 20 s.
	PollWait time.Duration
	// MaxStale is how long after the last successful poll the follower is
	// still Healthy. It bounds how late a revocation can be noticed: a
	// Verifier refuses every token once it passes. Default 60 s; must
	// exceed PollWait.
	MaxStale time.Duration
	// Retain keeps each entry this long past its "until", covering the
	// verifier's clock leeway and skew between this host and Tessera (a
	// token is accepted until exp + leeway, and "until" is exp as Tessera
	// reckons it). Default 5 min.
	Retain time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Validate reports the first configuration error.
func (c RevocationsConfig) Validate() error {
	u, err := url.Parse(c.URL)
	switch {
	case c.URL == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
		return errors.New("sdk: RevocationsConfig.URL must be an absolute http(s) URL")
	case c.ClientID == "" || c.ClientSecret == "":
		return errors.New("sdk: RevocationsConfig.ClientID and ClientSecret are required")
	case c.PollWait < 0 || c.PollWait > 30*time.Second:
		return errors.New("sdk: RevocationsConfig.PollWait must be 0 to 30 s")
	case c.MaxStale < 0 || c.Retain < 0:
		return errors.New("sdk: RevocationsConfig durations must not be negative")
	}
	d := c
	d.defaults()
	if d.MaxStale <= d.PollWait {
		return errors.New("sdk: RevocationsConfig.MaxStale must exceed PollWait")
	}
	return nil
}

func (c *RevocationsConfig) defaults() {
	if c.PollWait == 0 {
		c.PollWait = 20 * time.Second
	}
	if c.MaxStale == 0 {
		c.MaxStale = 60 * time.Second
	}
	if c.Retain == 0 {
		c.Retain = 5 * time.Minute
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: c.PollWait + 15*time.Second}
	}
}

// Revocations follows Tessera's revocation feed so that a revoked session
// or access token is refused locally within a bounded delay (one long-poll
// round trip while healthy; never later than MaxStale, after which a
// Verifier refuses everything). Entries are dropped at their "until" (plus
// Retain), so memory is bounded by revocations of one token lifetime.
// Safe for concurrent use.
type Revocations struct {
	cfg  RevocationsConfig
	auth string // precomputed Authorization header value

	mu     sync.RWMutex
	sids   map[string]time.Time // session id → drop after
	jtis   map[string]time.Time // token id → drop after
	kids   map[string]time.Time // revoked signing key id → drop after
	cursor string
	pruned time.Time

	lastOK atomic.Int64 // unix nanos (cfg.Now) of the last successful poll; 0 never
	// keyGen grows with every signing-key revocation learned: a Verifier
	// that sees it move drops those keys and purges its cache.
	keyGen atomic.Uint64
}

// NewRevocations returns a follower; call Run (or Sync) to start following.
// Until its first successful poll it is not Healthy.
func NewRevocations(cfg RevocationsConfig) (*Revocations, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.defaults()
	return &Revocations{
		cfg:  cfg,
		auth: basicAuth(cfg.ClientID, cfg.ClientSecret),
		sids: map[string]time.Time{},
		jtis: map[string]time.Time{},
		kids: map[string]time.Time{},
	}, nil
}

// basicAuth builds RFC 6749 §2.3.1 client authentication: id and secret are
// each form-urlencoded before being joined, then Basic-encoded.
func basicAuth(id, secret string) string {
	r := http.Request{Header: http.Header{}}
	r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	return r.Header.Get("Authorization")
}

// Healthy reports whether the last successful poll is within MaxStale.
func (r *Revocations) Healthy() bool {
	last := r.lastOK.Load()
	return last != 0 && r.cfg.Now().Sub(time.Unix(0, last)) < r.cfg.MaxStale
}

// Denied reports whether the session sid or the token jti is revoked.
// Empty arguments match nothing.
func (r *Revocations) Denied(sid, jti string) bool {
	now := r.cfg.Now()
	r.mu.RLock()
	defer r.mu.RUnlock()
	if sid != "" {
		if until, ok := r.sids[sid]; ok && now.Before(until) {
			return true
		}
	}
	if jti != "" {
		if until, ok := r.jtis[jti]; ok && now.Before(until) {
			return true
		}
	}
	return false
}

// KeyRevoked reports whether the signing key kid was revoked (Tessera's
// emergency key revocation): a Verifier following this feed drops the key
// and refuses every token it signed, even from a JWKS fetched from a stale
// cache.
func (r *Revocations) KeyRevoked(kid string) bool {
	if kid == "" {
		return false
	}
	now := r.cfg.Now()
	r.mu.RLock()
	until, ok := r.kids[kid]
	r.mu.RUnlock()
	return ok && now.Before(until)
}

// Len returns how many entries are held (for metrics and tests).
func (r *Revocations) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.sids) + len(r.jtis) + len(r.kids)
}

// Run follows the feed until ctx ends: one full read, then long polls.
// Errors back off exponentially (0.5 s to 30 s, with jitter) and never end
// the loop: the follower turns unhealthy and verifiers fail closed until
// the feed answers again. It returns ctx.Err().
func (r *Revocations) Run(ctx context.Context) error {
	backoff := time.Duration(0)
	for {
		r.mu.RLock()
		wait := r.cfg.PollWait
		if r.cursor == "" {
			wait = 0 // the first read is a snapshot; no point waiting
		}
		r.mu.RUnlock()
		err := r.poll(ctx, wait)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err == nil {
			backoff = 0
			continue
		}
		backoff = min(max(2*backoff, 500*time.Millisecond), 30*time.Second)
		d := backoff/2 + rand.N(backoff/2+1)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Sync polls once without waiting: at start-up, to be Healthy before
// serving; in tests, to apply what the server holds now.
func (r *Revocations) Sync(ctx context.Context) error {
	return r.poll(ctx, 0)
}

func (r *Revocations) poll(ctx context.Context, wait time.Duration) error {
	r.mu.RLock()
	cursor := r.cursor
	r.mu.RUnlock()
	q := url.Values{}
	if cursor != "" {
		q.Set("since", cursor)
		q.Set("wait", strconv.Itoa(int(wait/time.Second)))
	}
	u := r.cfg.URL
	if len(q) > 0 {
		sep := "?"
		if strings.Contains(u, "?") {
			sep = "&"
		}
		u += sep + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("%w: revocations: %v", ErrUnavailable, err)
	}
	req.Header.Set("Authorization", r.auth)
	req.Header.Set("Accept", "application/json")
	resp, err := r.cfg.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("%w: revocations: %v", ErrUnavailable, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return fmt.Errorf("%w: revocation feed", ErrClientAuth)
	case resp.StatusCode == http.StatusForbidden:
		// Authenticated, but the client lacks the revocation_feed
		// permission: a configuration error, like wrong credentials.
		return fmt.Errorf("%w: revocation feed: the client lacks the revocation_feed permission", ErrClientAuth)
	case resp.StatusCode == http.StatusBadRequest && cursor != "":
		// Our cursor is no longer understood (a server reset or migration):
		// start again from a full snapshot rather than loop on the error.
		r.mu.Lock()
		if r.cursor == cursor {
			r.cursor = ""
		}
		r.mu.Unlock()
		return fmt.Errorf("%w: revocations: cursor refused", ErrUnavailable)
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("%w: revocations: status %d", ErrUnavailable, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxFeedBody+1))
	if err != nil {
		return fmt.Errorf("%w: revocations: %v", ErrUnavailable, err)
	}
	if len(body) > maxFeedBody {
		return fmt.Errorf("%w: revocations: answer over %d bytes", ErrUnavailable, maxFeedBody)
	}
	var a protocol.FeedPage
	if err := json.Unmarshal(body, &a); err != nil || a.Cursor == "" {
		return fmt.Errorf("%w: revocations: malformed answer", ErrUnavailable)
	}
	now := r.cfg.Now()
	r.mu.Lock()
	for _, e := range a.Revocations {
		drop := e.Until.Add(r.cfg.Retain)
		if !now.Before(drop) {
			continue
		}
		if e.SID != "" && r.sids[e.SID].Before(drop) {
			r.sids[e.SID] = drop
		}
		if e.JTI != "" && r.jtis[e.JTI].Before(drop) {
			r.jtis[e.JTI] = drop
		}
		if e.KID != "" && r.kids[e.KID].Before(drop) {
			if _, known := r.kids[e.KID]; !known {
				r.keyGen.Add(1)
			}
			r.kids[e.KID] = drop
		}
	}
	r.cursor = a.Cursor
	if now.Sub(r.pruned) >= time.Minute || len(a.Revocations) == 0 {
		r.pruneLocked(now)
	}
	r.mu.Unlock()
	r.lastOK.Store(now.UnixNano())
	return nil
}

// pruneLocked drops entries past their time; it runs at most once a minute
// on a busy feed, and on every idle poll.
func (r *Revocations) pruneLocked(now time.Time) {
	for k, t := range r.sids {
		if !now.Before(t) {
			delete(r.sids, k)
		}
	}
	for k, t := range r.jtis {
		if !now.Before(t) {
			delete(r.jtis, k)
		}
	}
	for k, t := range r.kids {
		if !now.Before(t) {
			delete(r.kids, k)
		}
	}
	r.pruned = now
}
