package keys

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/store"
)

// ErrRotationUnsafe means the next key was published too recently for a
// rotation to be safe: a verifier holding a JWKS cached before it appeared
// would refuse every token the new active key signs until it refetches.
// The error text says when it becomes safe and what forcing it costs.
var ErrRotationUnsafe = errors.New("keys: the next key was published too recently to activate")

// RotationSafeAt is when the stored keyset's next key may be activated
// without breaking a verifier that caches the JWKS: once every JWKS served
// during the last wait already listed it. That is at once when the next key
// was created with the keyset itself (at first start both keys are made
// together, so no JWKS ever lacked it), and otherwise wait after it was
// created. The zero time means now; ok is false if there is no next key.
func RotationSafeAt(stored []store.SigningKey, wait time.Duration) (at time.Time, ok bool) {
	var next *store.SigningKey
	first := time.Time{}
	for i, k := range stored {
		if k.State == store.KeyNext && k.RevokedAt.IsZero() {
			next = &stored[i]
			continue
		}
		if first.IsZero() || k.CreatedAt.Before(first) {
			first = k.CreatedAt
		}
	}
	if next == nil {
		return time.Time{}, false
	}
	if !first.IsZero() && !next.CreatedAt.After(first) {
		return time.Time{}, true
	}
	return next.CreatedAt.Add(wait), true
}

// Stored describes the keyset as the store holds it now, not this node's
// copy (up to Reload old): what an operator's view must show.
func (ks *Keyset) Stored(ctx context.Context) ([]Info, error) {
	stored, err := ks.st.ListSigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("keys: list: %w", err)
	}
	return Describe(stored, ks.cfg.RetiredTTL, ks.now()), nil
}

// RotateChecked is an operator's rotation: it reads the store, and refuses
// with ErrRotationUnsafe unless the next key has been published long
// enough (RotationSafeAt with Config.PublishWait), or force is set. Two
// rotations in a row would otherwise activate a key that verifiers which
// cached the JWKS (browsers' jose for its max-age, jwx for 15 min) do not
// have. It returns the new active kid.
func (ks *Keyset) RotateChecked(ctx context.Context, force bool) (string, error) {
	stored, err := ks.st.ListSigningKeys(ctx)
	if err != nil {
		return "", fmt.Errorf("keys: rotate: %w", err)
	}
	var active string
	for _, k := range stored {
		if k.State == store.KeyActive {
			active = k.ID
		}
	}
	if active == "" {
		return "", fmt.Errorf("keys: rotate: %w", ErrNoKeys)
	}
	safeAt, ok := RotationSafeAt(stored, ks.cfg.PublishWait)
	if !ok {
		return "", fmt.Errorf("keys: rotate: no next key: %w", store.ErrNotFound)
	}
	if now := ks.now(); !force && now.Before(safeAt) {
		return "", fmt.Errorf("%w: it was published %s ago and verifiers may cache the JWKS for %s; "+
			"rotating before %s would make every verifier still holding an older JWKS refuse the tokens it signs until that verifier refetches "+
			"(force it to accept that)", ErrRotationUnsafe, now.Sub(safeAt.Add(-ks.cfg.PublishWait)).Truncate(time.Second),
			ks.cfg.PublishWait, safeAt.UTC().Format(time.RFC3339))
	}
	return ks.rotate(ctx, active)
}

// RevokeReason is the feed reason of a key revocation.
const RevokeReason = "key_compromised"

// Revoke is emergency key revocation, for a key whose private half may
// have leaked: the key leaves the JWKS at once and every token it signed
// is refused, on this node now, and on every node and SDK verifier when
// they read the revocation feed entry the store writes with it. If kid is
// the active key, the next key is activated first (without the safety
// wait: a compromised key must stop signing now; verifiers that lack the
// next key refetch the JWKS on its unknown kid). If kid is the next key, a
// fresh next key replaces it. It returns the active kid afterwards.
func (ks *Keyset) Revoke(ctx context.Context, kid string) (string, error) {
	stored, err := ks.st.ListSigningKeys(ctx)
	if err != nil {
		return "", fmt.Errorf("keys: revoke: %w", err)
	}
	var key *store.SigningKey
	for i := range stored {
		if stored[i].ID == kid {
			key = &stored[i]
		}
	}
	if key == nil {
		return "", fmt.Errorf("keys: revoke %s: %w", kid, store.ErrNotFound)
	}
	if key.State == store.KeyActive && key.RevokedAt.IsZero() {
		if _, err := ks.rotate(ctx, kid); err != nil {
			return "", err
		}
	}
	now := ks.now().UTC().Truncate(time.Microsecond)
	var newNext store.SigningKey
	if key.State == store.KeyNext {
		if newNext, err = ks.newKey(store.KeyNext, now); err != nil {
			return "", err
		}
	}
	was, err := ks.st.RevokeSigningKey(ctx, kid, newNext, now, now.Add(ks.cfg.RevokeHold), RevokeReason)
	if err != nil {
		return "", fmt.Errorf("keys: revoke %s: %w", kid, err)
	}
	ks.Revoked(ctx, kid)
	a, err := ks.Active()
	if err != nil {
		return "", err
	}
	if was.RevokedAt.IsZero() && ks.cfg.Events != nil {
		ks.cfg.Events.Publish(ctx, event.Event{Kind: event.KeyRevoked, At: now, KID: kid})
	}
	return a.KID, nil
}

// Revoked applies a key revocation this node learned of (from the
// revocation feed, or its own Revoke): the key leaves the published set
// at once, so nothing it signed verifies here any more (and the verified-
// token cache, which watches the set, is purged); if it was signing, this
// node signs nothing until the reload that follows finds the new active
// key. Safe to call more than once.
func (ks *Keyset) Revoked(ctx context.Context, kid string) {
	ks.mu.Lock()
	revoked := map[string]bool{kid: true}
	for k := range ks.revoked {
		revoked[k] = true
	}
	ks.revoked = revoked // copied: use reads it without the lock
	var set jose.JSONWebKeySet
	for _, k := range ks.published.Keys {
		if k.KeyID != kid {
			set.Keys = append(set.Keys, k)
		}
	}
	if len(set.Keys) != len(ks.published.Keys) {
		ks.published = set
	}
	if ks.active != nil && ks.active.KID == kid {
		ks.active = nil
	}
	ks.mu.Unlock()
	if err := ks.reload(ctx); err != nil {
		ks.log.Warn("signing keyset reload after a key revocation failed; the key is refused meanwhile", "kid", kid, "err", err)
	}
}
