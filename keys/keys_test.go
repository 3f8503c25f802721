package keys

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/tessera-auth/tessera/accesstoken"
	"github.com/tessera-auth/tessera/internal/clocktest"
	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/store/sqlite/sqlitetest"
)

func newKeyset(t *testing.T, st Store, m MasterKey, c *clocktest.Clock, alg string) *Keyset {
	t.Helper()
	ks, err := New(st, m, Config{Alg: alg, RotationInterval: 24 * time.Hour, RetiredTTL: time.Hour, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := ks.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	return ks
}

func master(t *testing.T) MasterKey {
	m, _, err := NewMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// signVerify signs with the active key and verifies against the JWKS, with
// an algorithm allow-list, as a relying party would.
func signVerify(t *testing.T, ks *Keyset) string {
	t.Helper()
	s, err := ks.Active()
	if err != nil {
		t.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: s.Alg, Key: jose.JSONWebKey{Key: s.Key, KeyID: s.KID}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := signer.Sign([]byte("payload"))
	if err != nil {
		t.Fatal(err)
	}
	compact, _ := obj.CompactSerialize()
	parsed, err := jose.ParseSignedCompact(compact, []jose.SignatureAlgorithm{s.Alg})
	if err != nil {
		t.Fatal(err)
	}
	kid := parsed.Signatures[0].Header.KeyID
	set := ks.JWKS()
	keys := set.Key(kid)
	if len(keys) != 1 {
		t.Fatalf("kid %s is published %d times", kid, len(keys))
	}
	if out, err := parsed.Verify(keys[0]); err != nil || string(out) != "payload" {
		t.Fatalf("verify with the published key: %v", err)
	}
	return kid
}

func TestAlgorithms(t *testing.T) {
	for _, alg := range Algorithms {
		t.Run(alg, func(t *testing.T) {
			c := clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
			ks := newKeyset(t, sqlitetest.Open(t), master(t), c, alg)
			signVerify(t, ks)
			set := ks.JWKS()
			if len(set.Keys) != 2 {
				t.Fatalf("JWKS has %d keys, want active and next", len(set.Keys))
			}
			for _, k := range set.Keys {
				if !k.IsPublic() || k.Algorithm != alg || k.Use != "sig" || k.KeyID == "" {
					t.Fatalf("published key %+v", k)
				}
				b, _ := k.MarshalJSON()
				if strings.Contains(string(b), `"d"`) {
					t.Fatal("private material in the JWKS")
				}
			}
		})
	}
	if _, err := New(sqlitetest.Open(t), master(t), Config{Alg: "HS256"}); err == nil {
		t.Fatal("HS256 accepted")
	}
}

func TestRotation(t *testing.T) {
	c := clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	st := sqlitetest.Open(t)
	ks := newKeyset(t, st, master(t), c, "ES256")
	ctx := context.Background()
	first := signVerify(t, ks)
	var next string
	for _, in := range ks.List() {
		if in.State == store.KeyNext {
			next = in.KID
		}
	}
	c.Add(time.Minute)
	kid, err := ks.Rotate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if kid != next {
		t.Fatalf("rotation activated %s, want the published next key %s", kid, next)
	}
	if got := signVerify(t, ks); got != next {
		t.Fatalf("signing with %s after rotation, want %s", got, next)
	}
	set := ks.JWKS()
	if len(set.Keys) != 3 || len(set.Key(first)) != 1 {
		t.Fatalf("after rotation the JWKS must hold retired, active and next: %d keys", len(set.Keys))
	}
	// Once no token the retired key signed can be valid, it goes.
	c.Add(time.Hour + time.Second)
	if err := ks.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	set = ks.JWKS()
	if len(set.Keys) != 2 || len(set.Key(first)) != 0 {
		t.Fatalf("retired key still published after its TTL: %d keys", len(set.Keys))
	}
	stored, _ := st.ListSigningKeys(ctx)
	if len(stored) != 2 {
		t.Fatalf("%d keys stored, want 2", len(stored))
	}
}

func TestScheduledRotationAndOtherNodes(t *testing.T) {
	c := clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	st := sqlitetest.Open(t)
	m := master(t)
	a := newKeyset(t, st, m, c, "ES256")
	b := newKeyset(t, st, m, c, "ES256")
	ctx := context.Background()
	ka, _ := a.Active()
	kb, _ := b.Active()
	if ka.KID != kb.KID {
		t.Fatal("two nodes loaded different active keys")
	}
	c.Add(23 * time.Hour)
	if err := a.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if k, _ := a.Active(); k.KID != ka.KID {
		t.Fatal("rotated before the interval")
	}
	c.Add(2 * time.Hour)
	// Both nodes find the key due at once: exactly one rotation happens.
	var wg sync.WaitGroup
	for _, ks := range []*Keyset{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := ks.Tick(ctx); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	na, _ := a.Active()
	nb, _ := b.Active()
	if na.KID == ka.KID || na.KID != nb.KID {
		t.Fatalf("after the interval: node a %s, node b %s, old %s", na.KID, nb.KID, ka.KID)
	}
	stored, _ := st.ListSigningKeys(ctx)
	if len(stored) != 3 {
		t.Fatalf("%d keys stored after one rotation, want 3 (two nodes rotated twice?)", len(stored))
	}
}

func TestSealedAtRest(t *testing.T) {
	c := clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	st := sqlitetest.Open(t)
	m := master(t)
	newKeyset(t, st, m, c, "EdDSA")
	ctx := context.Background()
	stored, _ := st.ListSigningKeys(ctx)
	for _, k := range stored {
		if strings.Contains(k.PrivateJWE, `"d"`) || strings.Count(k.PrivateJWE, ".") != 4 {
			t.Fatalf("private key not sealed as a compact JWE: %.40s…", k.PrivateJWE)
		}
		if strings.Contains(string(k.PublicJWK), `"d"`) {
			t.Fatal("private material in the stored public JWK")
		}
	}
	// Another master key cannot open them, and the keyset refuses to start.
	other, err := New(st, master(t), Config{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Load(ctx); !errors.Is(err, ErrMasterKey) {
		t.Fatalf("Load with the wrong master key: %v, want ErrMasterKey", err)
	}
	// A sealed key moved to another key's row is refused.
	ks, _ := New(st, m, Config{Now: c.Now})
	swapped := stored[0]
	swapped.PrivateJWE = stored[1].PrivateJWE
	if _, err := ks.open(swapped); err == nil {
		t.Fatal("a sealed key opened under another kid")
	}
}

func TestMasterKey(t *testing.T) {
	m, text, err := NewMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	raw := m.k
	for _, in := range []string{text, strings.TrimRight(text, "="), base64.URLEncoding.EncodeToString(raw), " " + text + "\n"} {
		got, err := ParseMasterKey(in)
		if err != nil || string(got.k) != string(raw) {
			t.Fatalf("ParseMasterKey(%q): %v", in, err)
		}
	}
	for _, bad := range []string{"", "not base64!", base64.StdEncoding.EncodeToString(make([]byte, 16))} {
		if _, err := ParseMasterKey(bad); !errors.Is(err, ErrMasterKey) {
			t.Fatalf("ParseMasterKey(%q) = %v", bad, err)
		}
	}
	if s := fmt.Sprintf("%v %+v %#v %s", m, m, m, m); strings.Contains(s, text) || strings.Contains(s, fmt.Sprint(raw)) {
		t.Fatal("master key leaked through fmt")
	}
}

// TestAccessTokensVerifyAcrossRotation: a token signed before a rotation
// still verifies against the JWKS after it, and new tokens use the new kid.
func TestAccessTokensVerifyAcrossRotation(t *testing.T) {
	c := clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	ks := newKeyset(t, sqlitetest.Open(t), master(t), c, "ES256")
	v := &accesstoken.Verifier{
		Issuer: "https://tessera.test", Algorithms: []jose.SignatureAlgorithm{jose.ES256},
		Keys: func(kid string) (*jose.JSONWebKey, error) {
			set := ks.JWKS()
			if k := set.Key(kid); len(k) == 1 {
				return &k[0], nil
			}
			return nil, accesstoken.ErrUnknownKey
		},
		Now: c.Now,
	}
	mint := func() (string, string) {
		s, _ := ks.Active()
		tok, err := accesstoken.Mint(accesstoken.Claims{Issuer: "https://tessera.test", Subject: "u", Audience: accesstoken.Audience{"api"},
			Expiry: c.Now().Add(15 * time.Minute).Unix(), IssuedAt: c.Now().Unix(), ID: "j", ClientID: "c"}, s.KID, s.Alg, s.Key)
		if err != nil {
			t.Fatal(err)
		}
		return tok, s.KID
	}
	old, oldKID := mint()
	if _, err := ks.Rotate(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(old); err != nil {
		t.Fatalf("token signed before rotation: %v", err)
	}
	fresh, newKID := mint()
	if newKID == oldKID {
		t.Fatal("new tokens still use the retired kid")
	}
	if _, err := v.Verify(fresh); err != nil {
		t.Fatalf("token signed after rotation: %v", err)
	}
}

func TestDerive(t *testing.T) {
	m := master(t)
	a, err := m.Derive("client-secret-pepper/v1")
	b, _ := m.Derive("client-secret-pepper/v1")
	c, _ := m.Derive("other")
	d, _ := master(t).Derive("client-secret-pepper/v1")
	if err != nil || len(a) != 32 || string(a) != string(b) || string(a) == string(c) || string(a) == string(d) {
		t.Fatal("Derive is not a deterministic per-purpose, per-key derivation")
	}
}
