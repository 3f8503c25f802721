package sdk

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/tessera-auth/tessera/accesstoken"
	"github.com/tessera-auth/tessera/protocol"
)

// maxIntrospectionBody bounds an introspection answer (Tessera's are < 1 KiB).
const maxIntrospectionBody = 64 << 10

// Introspection is an RFC 7662 §2.2 answer, as the server sends it.
type Introspection = protocol.Introspection

// IntrospectorConfig configures an Introspector.
type IntrospectorConfig struct {
	// URL is the introspection endpoint. Default: Issuer + "/oauth2/introspect".
	URL string
	// Issuer is used only to derive URL.
	Issuer string
	// ClientID and ClientSecret are a confidential client's credentials,
	// sent with HTTP Basic. Required.
	ClientID, ClientSecret string
	// HTTPClient makes the requests. Default: a client with a 5 s timeout.
	HTTPClient *http.Client
	// CacheTTL is how long an active answer is reused; never past the
	// token's exp. It bounds how late a revocation is noticed for opaque
	// tokens. Default 10 s; negative disables positive caching.
	CacheTTL time.Duration
	// NegativeTTL is how long an inactive answer is reused, so a client
	// replaying a dead token costs Tessera one request per NegativeTTL.
	// Default 2 s; negative disables negative caching.
	NegativeTTL time.Duration
	// MaxEntries bounds the cache. Default 10000.
	MaxEntries int
	// Revocations, if set, also refuses cached answers whose sid or jti
	// was revoked since, shortening CacheTTL's delay for revocations.
	Revocations *Revocations
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Introspector asks Tessera about opaque tokens (RFC 7662) and caches the
// answers under SHA-256 of the token, never the token. Safe for concurrent use.
type Introspector struct {
	cfg  IntrospectorConfig
	auth string

	mu    sync.Mutex
	cache map[[sha256.Size]byte]introEntry
}

type introEntry struct {
	in      *Introspection // nil: inactive
	expires time.Time
}

// NewIntrospector returns an introspector.
func NewIntrospector(cfg IntrospectorConfig) (*Introspector, error) {
	if cfg.URL == "" && cfg.Issuer != "" {
		cfg.URL = strings.TrimSuffix(cfg.Issuer, "/") + "/oauth2/introspect"
	}
	u, err := url.Parse(cfg.URL)
	switch {
	case cfg.URL == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
		return nil, errors.New("sdk: IntrospectorConfig needs an absolute http(s) URL or Issuer")
	case cfg.ClientID == "" || cfg.ClientSecret == "":
		return nil, errors.New("sdk: IntrospectorConfig.ClientID and ClientSecret are required")
	case cfg.MaxEntries < 0:
		return nil, errors.New("sdk: IntrospectorConfig.MaxEntries must not be negative")
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 5 * time.Second}
	}
	if cfg.CacheTTL == 0 {
		cfg.CacheTTL = 10 * time.Second
	}
	if cfg.NegativeTTL == 0 {
		cfg.NegativeTTL = 2 * time.Second
	}
	if cfg.MaxEntries == 0 {
		cfg.MaxEntries = 10000
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Introspector{cfg: cfg, auth: basicAuth(cfg.ClientID, cfg.ClientSecret), cache: map[[sha256.Size]byte]introEntry{}}, nil
}

// Introspect returns the token's state. An inactive token is
// (nil, ErrInactive); Tessera unreachable or answering oddly is an error
// wrapping ErrUnavailable (or ErrClientAuth), never "inactive".
// The answer returned is the caller's own copy.
func (in *Introspector) Introspect(ctx context.Context, token string) (*Introspection, error) {
	if token == "" || len(token) > accesstoken.MaxLen {
		return nil, ErrInactive
	}
	key := sha256.Sum256([]byte(token))
	now := in.cfg.Now()
	// A cached answer is trusted only while the revocation follower (when
	// there is one) is current: it is what makes a revocation reach a
	// cached answer early. Otherwise Tessera is asked every time.
	trusted := in.cfg.Revocations == nil || in.cfg.Revocations.Healthy()
	in.mu.Lock()
	e, ok := in.cache[key]
	if ok && !now.Before(e.expires) {
		delete(in.cache, key)
		ok = false
	}
	ok = ok && (trusted || e.in == nil) // an inactive answer stays inactive
	in.mu.Unlock()
	if !ok {
		var err error
		if e, err = in.ask(ctx, token, now); err != nil {
			return nil, err
		}
		in.store(key, e, now)
	}
	if e.in == nil {
		return nil, ErrInactive
	}
	if r := in.cfg.Revocations; r != nil && r.Denied(e.in.Sid, e.in.Jti) {
		return nil, ErrRevoked
	}
	out := *e.in
	out.Aud = append(accesstoken.Audience(nil), e.in.Aud...)
	return &out, nil
}

func (in *Introspector) ask(ctx context.Context, token string, now time.Time) (introEntry, error) {
	body := url.Values{"token": {token}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.cfg.URL, strings.NewReader(body))
	if err != nil {
		return introEntry{}, fmt.Errorf("%w: introspection: %v", ErrUnavailable, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", in.auth)
	resp, err := in.cfg.HTTPClient.Do(req)
	if err != nil {
		// *url.Error names the URL, never the body: the token cannot leak here.
		return introEntry{}, fmt.Errorf("%w: introspection: %v", ErrUnavailable, err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusUnauthorized:
		return introEntry{}, fmt.Errorf("%w: introspection", ErrClientAuth)
	default:
		return introEntry{}, fmt.Errorf("%w: introspection: status %d", ErrUnavailable, resp.StatusCode)
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxIntrospectionBody+1))
	if err != nil || len(raw) > maxIntrospectionBody {
		return introEntry{}, fmt.Errorf("%w: introspection: unreadable answer", ErrUnavailable)
	}
	var got Introspection
	if err := json.Unmarshal(raw, &got); err != nil {
		return introEntry{}, fmt.Errorf("%w: introspection: malformed answer", ErrUnavailable)
	}
	if !got.Active {
		return introEntry{expires: now.Add(in.cfg.NegativeTTL)}, nil
	}
	exp := now.Add(in.cfg.CacheTTL)
	if got.Exp != 0 {
		if te := time.Unix(got.Exp, 0); te.Before(exp) {
			exp = te
		}
		if !now.Before(time.Unix(got.Exp, 0)) {
			// Active yet past exp by our clock: trust the stricter reading.
			return introEntry{expires: now.Add(in.cfg.NegativeTTL)}, nil
		}
	}
	return introEntry{in: &got, expires: exp}, nil
}

func (in *Introspector) store(key [sha256.Size]byte, e introEntry, now time.Time) {
	if !now.Before(e.expires) {
		return // TTL disabled (negative) or already due
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if len(in.cache) >= in.cfg.MaxEntries {
		evict(in.cache, in.cfg.MaxEntries, func(x introEntry) bool { return !now.Before(x.expires) })
	}
	in.cache[key] = e
}
