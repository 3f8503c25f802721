package keys

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/store"
)

// Algorithms a keyset can sign with.
var Algorithms = []string{"ES256", "EdDSA", "RS256"}

// ErrNoKeys means the keyset has not been loaded.
var ErrNoKeys = errors.New("keys: keyset not loaded")

// Store is what the keyset needs from storage.
type Store interface {
	ListSigningKeys(ctx context.Context) ([]store.SigningKey, error)
	InitSigningKeys(ctx context.Context, active, next store.SigningKey) error
	RotateSigningKeys(ctx context.Context, expectActive string, newNext store.SigningKey, at time.Time) error
	DeleteRetiredKeys(ctx context.Context, cutoff time.Time) (int, error)
	RevokeSigningKey(ctx context.Context, kid string, newNext store.SigningKey, at, until time.Time, reason string) (store.SigningKey, error)
}

// JWKSMaxAge is how long verifiers may cache the JWKS (its Cache-Control
// max-age): a key must be published this long, plus the time every node
// takes to follow a change, before it signs.
const JWKSMaxAge = 5 * time.Minute

// Config is the key policy.
type Config struct {
	// Alg signs new keys: ES256 (default), EdDSA or RS256.
	Alg string
	// RotationInterval rotates the active key once it is this old; 0: manual only.
	RotationInterval time.Duration
	// RetiredTTL keeps a retired key published (and stored) this long, which
	// must outlast every token it signed.
	RetiredTTL time.Duration
	// Reload is how often Run rereads the keyset so a rotation made by
	// another node is followed. Default 30s.
	Reload time.Duration
	Now    func() time.Time
	Logger *slog.Logger
	// PublishWait is how long a next key must have been published before
	// a rotation may activate it: every JWKS a verifier may still hold from
	// cache must already list it, or tokens it signs are refused by that
	// verifier until it refetches. Default JWKSMaxAge + Reload + 1 min
	// (nodes follow a rotation within Reload; the minute covers clock skew
	// and slow fetches).
	PublishWait time.Duration
	// RevokeHold is how long a key revocation stays on the revocation
	// feed: verifiers drop the key when they read the entry, and refuse it
	// from a JWKS fetched meanwhile (a stale copy from an HTTP cache). It
	// must exceed JWKSMaxAge. Default 1 h.
	RevokeHold time.Duration
	// Events receives event.KeyRotated when this node rotates and
	// event.KeyRevoked when it revokes a key; nil: none.
	Events event.Sink
	// Lease, if set, must be held for the scheduled rotation and the
	// cleanup a Tick does, so that in a cluster one node does them (every
	// node reloads). nil: this node does them whenever due.
	Lease Lease
}

// Lease is the right to do the cluster's key maintenance (cluster.Lease).
type Lease interface {
	// Acquire takes or renews the lease and reports whether it is held.
	Acquire(ctx context.Context) (bool, error)
}

// Keyset holds the signing keys. Safe for concurrent use.
type Keyset struct {
	st     Store
	master MasterKey
	cfg    Config
	now    func() time.Time
	log    *slog.Logger

	mu        sync.RWMutex
	revoked   map[string]bool // kids revoked while this keyset ran; never published again
	active    *Signer
	published jose.JSONWebKeySet
	infos     []Info
}

// Signer is the active key, ready to sign.
type Signer struct {
	KID string
	Alg jose.SignatureAlgorithm
	Key crypto.Signer
}

// Info describes a key for listings; it holds no private material.
type Info struct {
	KID, Alg, State                              string
	CreatedAt, ActivatedAt, RetiredAt, RevokedAt time.Time
	Published                                    bool
}

// New returns a keyset; call Load before use.
func New(st Store, master MasterKey, cfg Config) (*Keyset, error) {
	if cfg.Alg == "" {
		cfg.Alg = "ES256"
	}
	if _, err := generate(cfg.Alg); err != nil {
		return nil, err
	}
	if len(master.k) != 32 {
		return nil, ErrMasterKey
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Reload <= 0 {
		cfg.Reload = 30 * time.Second
	}
	if cfg.PublishWait <= 0 {
		cfg.PublishWait = JWKSMaxAge + cfg.Reload + time.Minute
	}
	if cfg.RevokeHold <= JWKSMaxAge {
		cfg.RevokeHold = time.Hour
	}
	return &Keyset{st: st, master: master, cfg: cfg, now: cfg.Now, log: cfg.Logger}, nil
}

func generate(alg string) (crypto.Signer, error) {
	switch alg {
	case "ES256":
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "EdDSA":
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	case "RS256":
		return rsa.GenerateKey(rand.Reader, 3072)
	}
	return nil, fmt.Errorf("keys: unsupported algorithm %q (want ES256, EdDSA or RS256)", alg)
}

// newKey makes a key in the given state. Its kid is the RFC 7638 thumbprint
// of its public key, so a kid names exactly one key everywhere.
func (ks *Keyset) newKey(state string, at time.Time) (store.SigningKey, error) {
	priv, err := generate(ks.cfg.Alg)
	if err != nil {
		return store.SigningKey{}, fmt.Errorf("keys: generate: %w", err)
	}
	pub := jose.JSONWebKey{Key: priv.Public(), Algorithm: ks.cfg.Alg, Use: "sig"}
	tp, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return store.SigningKey{}, fmt.Errorf("keys: thumbprint: %w", err)
	}
	kid := base64.RawURLEncoding.EncodeToString(tp)
	pub.KeyID = kid
	pubJSON, err := pub.MarshalJSON()
	if err != nil {
		return store.SigningKey{}, fmt.Errorf("keys: %w", err)
	}
	sealed, err := ks.seal(kid, jose.JSONWebKey{Key: priv, KeyID: kid, Algorithm: ks.cfg.Alg, Use: "sig"})
	if err != nil {
		return store.SigningKey{}, err
	}
	k := store.SigningKey{ID: kid, Alg: ks.cfg.Alg, State: state, CreatedAt: at, PublicJWK: pubJSON, PrivateJWE: sealed}
	if state == store.KeyActive {
		k.ActivatedAt = at
	}
	return k, nil
}

// seal encrypts a private JWK as a compact JWE (dir, A256GCM). The kid sits
// in the authenticated protected header, so a sealed key cannot be moved to
// another key's row unnoticed.
func (ks *Keyset) seal(kid string, priv jose.JSONWebKey) (string, error) {
	plain, err := priv.MarshalJSON()
	if err != nil {
		return "", fmt.Errorf("keys: %w", err)
	}
	return sealJWE(ks.master.k, kid, "jwk+json", plain)
}

func (ks *Keyset) open(k store.SigningKey) (crypto.Signer, error) {
	plain, err := openJWE(ks.master.k, k.ID, k.PrivateJWE)
	if err != nil {
		return nil, err
	}
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(plain); err != nil {
		return nil, fmt.Errorf("keys: key %s: %w", k.ID, err)
	}
	signer, ok := jwk.Key.(crypto.Signer)
	if !ok || jwk.IsPublic() {
		return nil, fmt.Errorf("keys: key %s: not a private signing key", k.ID)
	}
	return signer, nil
}

// Load reads the keyset, creating the first active and next keys if the
// store has none. It fails if the active key cannot be opened with the
// master key: signing with nothing is better than signing with a guess.
func (ks *Keyset) Load(ctx context.Context) error {
	stored, err := ks.st.ListSigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("keys: load: %w", err)
	}
	if len(stored) == 0 {
		now := ks.now().UTC().Truncate(time.Microsecond)
		a, err := ks.newKey(store.KeyActive, now)
		if err != nil {
			return err
		}
		n, err := ks.newKey(store.KeyNext, now)
		if err != nil {
			return err
		}
		if err := ks.st.InitSigningKeys(ctx, a, n); err != nil && !errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("keys: init: %w", err)
		}
		ks.log.Info("signing keys created", "active_kid", a.ID, "next_kid", n.ID, "alg", ks.cfg.Alg)
		if stored, err = ks.st.ListSigningKeys(ctx); err != nil {
			return fmt.Errorf("keys: load: %w", err)
		}
	}
	return ks.use(stored)
}

// Describe lists stored keys as of now, with whether each is still
// published (a retired key stays in the JWKS for retiredTTL; a revoked key
// never is). It needs no master key: listing keys must not require, or
// create, one.
func Describe(stored []store.SigningKey, retiredTTL time.Duration, now time.Time) []Info {
	infos := make([]Info, 0, len(stored))
	for _, k := range stored {
		published := k.RevokedAt.IsZero() && (k.State != store.KeyRetired || now.Before(k.RetiredAt.Add(retiredTTL)))
		infos = append(infos, Info{KID: k.ID, Alg: k.Alg, State: k.State, CreatedAt: k.CreatedAt, ActivatedAt: k.ActivatedAt,
			RetiredAt: k.RetiredAt, RevokedAt: k.RevokedAt, Published: published})
	}
	return infos
}

func (ks *Keyset) use(stored []store.SigningKey) error {
	var active *Signer
	var set jose.JSONWebKeySet
	infos := Describe(stored, ks.cfg.RetiredTTL, ks.now())
	ks.mu.RLock()
	revoked := ks.revoked
	ks.mu.RUnlock()
	for i, k := range stored {
		if revoked[k.ID] {
			continue // a reload that read the store before the revocation committed
		}
		if infos[i].Published {
			var pub jose.JSONWebKey
			if err := pub.UnmarshalJSON(k.PublicJWK); err != nil {
				return fmt.Errorf("keys: key %s: public JWK: %w", k.ID, err)
			}
			if !pub.IsPublic() {
				return fmt.Errorf("keys: key %s: stored public JWK holds private material", k.ID)
			}
			set.Keys = append(set.Keys, pub)
		}
		if k.State == store.KeyActive && k.RevokedAt.IsZero() {
			signer, err := ks.open(k)
			if err != nil {
				return err
			}
			active = &Signer{KID: k.ID, Alg: jose.SignatureAlgorithm(k.Alg), Key: signer}
		}
	}
	if active == nil {
		return fmt.Errorf("keys: no active key in the store")
	}
	ks.mu.Lock()
	ks.active, ks.published, ks.infos = active, set, infos
	ks.mu.Unlock()
	return nil
}

// Active returns the key that signs now.
func (ks *Keyset) Active() (*Signer, error) {
	ks.mu.RLock()
	defer ks.mu.RUnlock()
	if ks.active == nil {
		return nil, ErrNoKeys
	}
	return ks.active, nil
}

// JWKS returns the public keys verifiers need: next (so they have it
// before it signs), active, and retired keys until RetiredTTL has passed.
func (ks *Keyset) JWKS() jose.JSONWebKeySet {
	ks.mu.RLock()
	defer ks.mu.RUnlock()
	return ks.published
}

// PublicKey returns the published key with this kid, for verifying the
// server's own tokens (accesstoken.KeyFunc).
func (ks *Keyset) PublicKey(kid string) (*jose.JSONWebKey, error) {
	ks.mu.RLock()
	defer ks.mu.RUnlock()
	for i := range ks.published.Keys {
		if ks.published.Keys[i].KeyID == kid {
			k := ks.published.Keys[i]
			return &k, nil
		}
	}
	return nil, fmt.Errorf("%w: %s", ErrUnknownKID, kid)
}

// ErrUnknownKID means no published key has the kid.
var ErrUnknownKID = errors.New("keys: unknown kid")

// List describes every stored key.
func (ks *Keyset) List() []Info {
	ks.mu.RLock()
	defer ks.mu.RUnlock()
	return append([]Info(nil), ks.infos...)
}

// Rotate retires the active key, activates the next one (already published,
// so verifiers have it) and creates a new next key. When several nodes rotate
// at once exactly one succeeds; the others just reload.
//
// Rotate does not check that verifiers have had time to fetch the next key
// (see RotateChecked, what operators' rotations use).
func (ks *Keyset) Rotate(ctx context.Context) (string, error) {
	cur, err := ks.Active()
	if err != nil {
		return "", err
	}
	return ks.rotate(ctx, cur.KID)
}

func (ks *Keyset) rotate(ctx context.Context, expectActive string) (string, error) {
	now := ks.now().UTC().Truncate(time.Microsecond)
	next, err := ks.newKey(store.KeyNext, now)
	if err != nil {
		return "", err
	}
	err = ks.st.RotateSigningKeys(ctx, expectActive, next, now)
	if err != nil && !errors.Is(err, store.ErrConflict) {
		return "", fmt.Errorf("keys: rotate: %w", err)
	}
	rotated := err == nil
	if err := ks.reload(ctx); err != nil {
		return "", err
	}
	a, err := ks.Active()
	if err != nil {
		return "", err
	}
	if rotated && ks.cfg.Events != nil {
		ks.cfg.Events.Publish(ctx, event.Event{Kind: event.KeyRotated, At: now, KID: a.KID})
	}
	return a.KID, nil
}

func (ks *Keyset) reload(ctx context.Context) error {
	stored, err := ks.st.ListSigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("keys: reload: %w", err)
	}
	return ks.use(stored)
}

// Tick does the periodic work: follow other nodes' rotations and, where
// the Lease is held, rotate if the active key is due and delete keys no
// longer published. (RotateSigningKeys is conditional on the active key,
// so racing nodes could not rotate twice anyway; the lease keeps the
// others from generating keys only to have them refused.)
func (ks *Keyset) Tick(ctx context.Context) error {
	if err := ks.reload(ctx); err != nil {
		return err
	}
	if ks.cfg.Lease != nil {
		held, err := ks.cfg.Lease.Acquire(ctx)
		if err != nil {
			return fmt.Errorf("keys: %w", err)
		}
		if !held {
			return nil
		}
	}
	if ks.cfg.RotationInterval > 0 {
		var activated time.Time
		for _, in := range ks.List() {
			if in.State == store.KeyActive {
				activated = in.ActivatedAt
			}
		}
		if !ks.now().Before(activated.Add(ks.cfg.RotationInterval)) {
			// A scheduled rotation waits, as a manual one must, until the
			// next key has been published long enough.
			switch _, err := ks.RotateChecked(ctx, false); {
			case errors.Is(err, ErrRotationUnsafe):
				// Perhaps another node has just rotated: follow it now.
				ks.log.Debug("scheduled key rotation postponed", "why", err)
				if err := ks.reload(ctx); err != nil {
					return err
				}
			case err != nil:
				return err
			}
		}
	}
	if _, err := ks.st.DeleteRetiredKeys(ctx, ks.now().Add(-ks.cfg.RetiredTTL)); err != nil {
		return fmt.Errorf("keys: cleanup: %w", err)
	}
	return nil
}

// Run calls Tick every Reload until ctx ends.
func (ks *Keyset) Run(ctx context.Context) {
	t := time.NewTicker(ks.cfg.Reload)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := ks.Tick(ctx); err != nil && ctx.Err() == nil {
				ks.log.Warn("signing keyset maintenance failed", "err", err)
			}
		}
	}
}
