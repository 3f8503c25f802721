package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/tessera-auth/tessera/accesstoken"
)

// Errors the SDK adds to accesstoken's. A token refused for its own fault
// wraps an accesstoken error, ErrRevoked or ErrInactive (answer 401); the
// others mean the SDK cannot decide right now and refuses (answer 503).
var (
	// ErrRevoked means the token's session or the token itself is on the
	// revocation feed.
	ErrRevoked = errors.New("sdk: token revoked")
	// ErrRevocationsStale means the revocation follower has not heard from
	// the server within MaxStale, so a revoked token could go unnoticed:
	// every token is refused until the feed is current again.
	ErrRevocationsStale = errors.New("sdk: revocation feed is stale")
	// ErrUnavailable means Tessera could not be reached or answered
	// unexpectedly and nothing cached can stand in for its answer.
	ErrUnavailable = errors.New("sdk: tessera unavailable")
	// ErrInactive means introspection said the token is not active.
	ErrInactive = errors.New("sdk: token inactive")
	// ErrClientAuth means Tessera refused this service's client credentials.
	ErrClientAuth = errors.New("sdk: client authentication refused")
)

// Temporary reports whether err means "cannot decide now" rather than "bad
// token": the caller should answer 503 and the client keep its token.
func Temporary(err error) bool {
	return errors.Is(err, ErrUnavailable) || errors.Is(err, ErrRevocationsStale) || errors.Is(err, ErrClientAuth)
}

// maxJWKSBody bounds a JWKS document: Tessera's holds three keys in ~1 KiB.
const maxJWKSBody = 1 << 20

// VerifierConfig configures a Verifier. Zero fields take the stated defaults.
type VerifierConfig struct {
	// Issuer is the exact "iss" Tessera puts in its tokens. Required.
	Issuer string
	// Audience is the "aud" this service accepts. Required: a verifier
	// that accepts any audience would take tokens minted for other services.
	Audience string
	// JWKSURL is where the signing keys are published.
	// Default: Issuer + "/.well-known/jwks.json".
	JWKSURL string
	// Algorithms is the allow-list of JWS algorithms. Default: ES256,
	// EdDSA, RS256. Only asymmetric algorithms are accepted: HS* (key
	// confusion with a public key) and "none" are refused by NewVerifier.
	Algorithms []jose.SignatureAlgorithm
	// HTTPClient fetches the JWKS. Default: a client with a 10 s timeout.
	HTTPClient *http.Client
	// Leeway tolerates clock skew on exp, nbf and iat. Default 30 s.
	Leeway time.Duration
	// MaxLifetime is the longest access-token lifetime accepted: a token
	// whose exp − iat exceeds it (plus Leeway) is refused, so a token
	// minted with a stolen signing key cannot claim to live for years.
	// Set it to Tessera's policy.tokens.access_ttl. Default 1 h
	// (accesstoken.DefaultMaxLifetime), which covers the default 15 min;
	// there is no "unlimited" (Tessera's own maximum is 24 h).
	MaxLifetime time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// MinRefetchInterval is the least time between two JWKS fetches caused
	// by unknown kids, so a flood of tokens with random kids costs Tessera
	// at most one request per interval. Default 30 s.
	MinRefetchInterval time.Duration
	// RefreshInterval is the longest time a fetched key set is used before
	// it is refreshed (in the background, while the old set keeps serving).
	// A shorter Cache-Control max-age is honoured, down to
	// MinRefetchInterval. Default 5 min.
	RefreshInterval time.Duration
	// CacheSize bounds the cache of verified tokens (keyed by SHA-256 of the
	// token; each hit still checks expiry and revocation). Default 10000;
	// negative disables the cache.
	CacheSize int
	// Revocations, if set, makes Verify refuse tokens whose session or jti
	// was revoked, and refuse every token (ErrRevocationsStale) while the
	// follower is not Healthy.
	Revocations *Revocations
}

var allowedAlgs = map[jose.SignatureAlgorithm]bool{
	jose.ES256: true, jose.ES384: true, jose.ES512: true, jose.EdDSA: true,
	jose.RS256: true, jose.RS384: true, jose.RS512: true,
	jose.PS256: true, jose.PS384: true, jose.PS512: true,
}

// Validate reports the first configuration error.
func (c VerifierConfig) Validate() error {
	switch {
	case c.Issuer == "":
		return errors.New("sdk: VerifierConfig.Issuer is required")
	case c.Audience == "":
		return errors.New("sdk: VerifierConfig.Audience is required")
	case c.Leeway < 0 || c.MaxLifetime < 0 || c.MinRefetchInterval < 0 || c.RefreshInterval < 0:
		return errors.New("sdk: VerifierConfig durations must not be negative")
	}
	for _, a := range c.Algorithms {
		if !allowedAlgs[a] {
			return fmt.Errorf("sdk: algorithm %q is not allowed (asymmetric JWS algorithms only)", a)
		}
	}
	if c.JWKSURL != "" {
		u, err := url.Parse(c.JWKSURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return errors.New("sdk: VerifierConfig.JWKSURL must be an absolute http(s) URL")
		}
	}
	return nil
}

func (c *VerifierConfig) defaults() {
	if c.JWKSURL == "" {
		c.JWKSURL = strings.TrimSuffix(c.Issuer, "/") + "/.well-known/jwks.json"
	}
	if len(c.Algorithms) == 0 {
		c.Algorithms = []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA, jose.RS256}
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if c.Leeway == 0 {
		c.Leeway = 30 * time.Second
	}
	if c.MaxLifetime == 0 {
		c.MaxLifetime = accesstoken.DefaultMaxLifetime
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.MinRefetchInterval == 0 {
		c.MinRefetchInterval = 30 * time.Second
	}
	if c.RefreshInterval == 0 {
		c.RefreshInterval = 5 * time.Minute
	}
	if c.RefreshInterval < c.MinRefetchInterval {
		c.RefreshInterval = c.MinRefetchInterval
	}
	if c.CacheSize == 0 {
		c.CacheSize = 10000
	}
}

// keySnapshot is one fetched key set; it is replaced, never modified.
type keySnapshot struct {
	keys      map[string]*jose.JSONWebKey
	refreshAt time.Time
}

// Verifier verifies Tessera JWT access tokens locally. Safe for concurrent use.
type Verifier struct {
	cfg  VerifierConfig
	atv  accesstoken.Verifier
	keys atomic.Pointer[keySnapshot]

	// fetchSem serialises JWKS fetches (capacity 1) without ignoring ctx.
	fetchSem    chan struct{}
	lastAttempt atomic.Int64 // unix nanos of the last fetch attempt
	refreshing  atomic.Bool

	// cache holds verified tokens until exp + leeway (the instant
	// accesstoken would call them expired); nil when disabled. It is purged
	// when a key leaves the key set.
	cache *accesstoken.Cache
	// keyGen is the Revocations key generation this verifier last applied.
	keyGen atomic.Uint64
}

// NewVerifier returns a verifier. It fetches no keys yet: the first Verify
// (or Refresh) does, so a service can start while Tessera is still coming up.
func NewVerifier(cfg VerifierConfig) (*Verifier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.defaults()
	v := &Verifier{cfg: cfg, fetchSem: make(chan struct{}, 1)}
	if cfg.CacheSize > 0 {
		v.cache = accesstoken.NewCache(cfg.CacheSize, cfg.Leeway)
	}
	v.atv = accesstoken.Verifier{
		Issuer: cfg.Issuer, Audience: cfg.Audience, Algorithms: cfg.Algorithms,
		Leeway: cfg.Leeway, MaxLifetime: cfg.MaxLifetime, Now: cfg.Now, Keys: v.lookup,
	}
	return v, nil
}

// lookup is the accesstoken.KeyFunc: cached keys only, never a fetch, so a
// verification can never be turned into a request by itself (Verify decides).
func (v *Verifier) lookup(kid string) (*jose.JSONWebKey, error) {
	if r := v.cfg.Revocations; r != nil && r.KeyRevoked(kid) {
		return nil, fmt.Errorf("%w: its signing key was revoked", ErrRevoked)
	}
	if s := v.keys.Load(); s != nil {
		if k, ok := s.keys[kid]; ok {
			return k, nil
		}
	}
	return nil, accesstoken.ErrUnknownKey
}

// Verify checks a compact JWT access token: signature, header and claims
// by accesstoken.Verifier with this service's issuer and audience, then the
// revocation feed if one is configured. The claims returned are shared with
// the cache: do not modify them.
func (v *Verifier) Verify(ctx context.Context, token string) (*accesstoken.Claims, error) {
	c, err := v.verify(ctx, token)
	if err != nil {
		return nil, err
	}
	if r := v.cfg.Revocations; r != nil {
		if !r.Healthy() {
			return nil, ErrRevocationsStale
		}
		if r.Denied(c.SessionID, c.ID) {
			return nil, ErrRevoked
		}
	}
	return c, nil
}

func (v *Verifier) verify(ctx context.Context, token string) (*accesstoken.Claims, error) {
	if len(token) > accesstoken.MaxLen {
		return nil, accesstoken.ErrMalformed
	}
	now := v.cfg.Now()
	v.applyKeyRevocations()
	var key accesstoken.CacheKey
	if v.cache != nil {
		key = accesstoken.KeyOf(token)
		c, expired := v.cache.Get(key, now)
		if c != nil {
			v.maybeRefresh(now)
			return c, nil
		}
		if expired {
			return nil, accesstoken.ErrExpired
		}
	}
	snap := v.keys.Load()
	if snap == nil {
		// Cold start: nothing to verify with, so fetch now or fail closed.
		if err := v.fetchIfAllowed(ctx, min(time.Second, v.cfg.MinRefetchInterval)); err != nil {
			return nil, err
		}
		if v.keys.Load() == nil {
			return nil, fmt.Errorf("%w: no signing keys fetched yet", ErrUnavailable)
		}
	} else {
		v.maybeRefresh(now)
	}
	var gen uint64
	if v.cache != nil {
		gen = v.cache.Generation()
	}
	c, err := v.atv.Verify(token)
	if errors.Is(err, accesstoken.ErrUnknownKey) {
		// A kid we do not know: perhaps a rotation we have not seen. Refetch,
		// at most once per MinRefetchInterval whatever the kid, and retry.
		before := v.keys.Load()
		if ferr := v.fetchIfAllowed(ctx, v.cfg.MinRefetchInterval); ferr != nil {
			// Cannot learn new keys now: "try later" beats "your token is bad".
			return nil, ferr
		}
		if v.keys.Load() != before {
			c, err = v.atv.Verify(token)
		}
	}
	if err != nil {
		return nil, err
	}
	if v.cache != nil {
		// Not kept if a key left the key set since gen was taken.
		v.cache.Put(key, c, gen, v.cfg.Now())
	}
	return c, nil
}

// maybeRefresh starts a background refresh when the key set is due; the
// current keys keep serving meanwhile, and a failed refresh keeps them.
func (v *Verifier) maybeRefresh(now time.Time) {
	s := v.keys.Load()
	if s == nil || now.Before(s.refreshAt) || !v.refreshing.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer v.refreshing.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := v.fetchIfAllowed(ctx, v.cfg.MinRefetchInterval); err != nil {
			// Keep the warm keys; try again no sooner than the floor.
			v.postpone(v.cfg.Now().Add(v.cfg.MinRefetchInterval))
		}
	}()
}

func (v *Verifier) postpone(at time.Time) {
	if s := v.keys.Load(); s != nil && s.refreshAt.Before(at) {
		v.keys.CompareAndSwap(s, &keySnapshot{keys: s.keys, refreshAt: at})
	}
}

// Refresh fetches the key set now, ignoring the rate limit: for start-up
// (fail fast on a wrong URL) and for operators' hooks.
func (v *Verifier) Refresh(ctx context.Context) error {
	return v.fetchIfAllowed(ctx, 0)
}

// fetchIfAllowed fetches the JWKS unless another fetch was attempted less
// than floor ago. Concurrent callers wait for the one fetch in flight and
// then see its attempt time, so a burst yields one request.
func (v *Verifier) fetchIfAllowed(ctx context.Context, floor time.Duration) error {
	select {
	case v.fetchSem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-v.fetchSem }()
	now := v.cfg.Now()
	if last := v.lastAttempt.Load(); last != 0 && now.Sub(time.Unix(0, last)) < floor {
		return nil
	}
	v.lastAttempt.Store(now.UnixNano())
	return v.fetch(ctx)
}

func (v *Verifier) fetch(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.cfg.JWKSURL, nil)
	if err != nil {
		return fmt.Errorf("%w: jwks: %v", ErrUnavailable, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := v.cfg.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("%w: jwks: %v", ErrUnavailable, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return fmt.Errorf("%w: jwks: status %d", ErrUnavailable, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBody+1))
	if err != nil {
		return fmt.Errorf("%w: jwks: %v", ErrUnavailable, err)
	}
	if len(body) > maxJWKSBody {
		return fmt.Errorf("%w: jwks: document over %d bytes", ErrUnavailable, maxJWKSBody)
	}
	keys, err := v.parseJWKS(body)
	if err != nil {
		return fmt.Errorf("%w: jwks: %v", ErrUnavailable, err)
	}
	now := v.cfg.Now()
	ttl := v.cfg.RefreshInterval
	if ma, ok := maxAge(resp.Header.Get("Cache-Control")); ok {
		ttl = min(max(ma, v.cfg.MinRefetchInterval), v.cfg.RefreshInterval)
	}
	v.setKeys(&keySnapshot{keys: keys, refreshAt: now.Add(ttl)})
	return nil
}

// applyKeyRevocations drops from the key set the signing keys the
// revocation feed says were revoked, and purges the cache, once per new
// revocation: what those keys signed must be refused now, not when the
// JWKS is next fetched.
func (v *Verifier) applyKeyRevocations() {
	r := v.cfg.Revocations
	if r == nil {
		return
	}
	g := r.keyGen.Load()
	if v.keyGen.Load() == g {
		return
	}
	if v.cache != nil {
		v.cache.Purge()
	}
	for {
		s := v.keys.Load()
		if s == nil {
			break
		}
		kept := make(map[string]*jose.JSONWebKey, len(s.keys))
		for kid, k := range s.keys {
			if !r.KeyRevoked(kid) {
				kept[kid] = k
			}
		}
		if v.keys.CompareAndSwap(s, &keySnapshot{keys: kept, refreshAt: s.refreshAt}) {
			break
		}
	}
	v.keyGen.Store(g)
}

// setKeys installs a fetched key set. If a key left the set (retired, or
// pulled after a compromise), the cache is purged: tokens it signed must be
// verified again, not served from cache.
func (v *Verifier) setKeys(s *keySnapshot) {
	v.keys.Store(s)
	if v.cache != nil {
		v.cache.KeySet(slices.Collect(maps.Keys(s.keys)))
	}
}

// parseJWKS decodes each key with go-jose, keeping the usable ones: public
// signing keys with a kid and an allowed alg. One odd key (a new key type
// this SDK predates) must not make the whole set unusable.
func (v *Verifier) parseJWKS(body []byte) (map[string]*jose.JSONWebKey, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, errors.New("malformed JSON")
	}
	keys := make(map[string]*jose.JSONWebKey, len(doc.Keys))
	for _, raw := range doc.Keys {
		var set jose.JSONWebKeySet
		if err := json.Unmarshal([]byte(`{"keys":[`+string(raw)+`]}`), &set); err != nil || len(set.Keys) != 1 {
			continue
		}
		k := set.Keys[0]
		if k.KeyID == "" || !k.IsPublic() || !k.Valid() || (k.Use != "" && k.Use != "sig") {
			continue
		}
		alg := jose.SignatureAlgorithm(k.Algorithm)
		allowed := false
		for _, a := range v.cfg.Algorithms {
			allowed = allowed || a == alg
		}
		if !allowed {
			continue
		}
		keys[k.KeyID] = &k
	}
	if len(keys) == 0 {
		return nil, errors.New("no usable signing keys")
	}
	return keys, nil
}

// maxAge returns Cache-Control's max-age (0 for no-store / no-cache).
func maxAge(cc string) (time.Duration, bool) {
	for _, d := range strings.Split(cc, ",") {
		d = strings.ToLower(strings.TrimSpace(d))
		if d == "no-store" || d == "no-cache" {
			return 0, true
		}
		if v, ok := strings.CutPrefix(d, "max-age="); ok {
			n, err := strconv.Atoi(strings.Trim(v, `"`))
			if err != nil || n < 0 {
				return 0, false
			}
			return time.Duration(min(n, 1<<30)) * time.Second, true
		}
	}
	return 0, false
}

// evict makes room in a full cache: it drops expired entries, then
// arbitrary ones (map order is unspecified) down to 90% of size, so the
// O(n) sweep is paid once per size/10 inserts, not on every insert. A
// dropped entry is only looked up again, never wrongly accepted.
func evict[K comparable, V any](m map[K]V, size int, expired func(V) bool) {
	for k, e := range m {
		if expired(e) {
			delete(m, k)
		}
	}
	target := size * 9 / 10
	for k := range m {
		if len(m) <= target {
			break
		}
		delete(m, k)
	}
}
