package accesstoken

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
)

// Type is the JOSE "typ" of an access token (RFC 9068 §2.1).
const Type = "at+jwt"

// MaxLen bounds the compact serialization a verifier will parse. Tessera's
// tokens are well under 1 KiB; the bound stops oversized input early.
const MaxLen = 8 << 10

// Claims are the RFC 9068 claims Tessera issues.
type Claims struct {
	Issuer    string   `json:"iss"`
	Subject   string   `json:"sub"`
	Audience  Audience `json:"aud"`
	Expiry    int64    `json:"exp"`
	IssuedAt  int64    `json:"iat"`
	NotBefore int64    `json:"nbf,omitempty"`
	ID        string   `json:"jti"`
	ClientID  string   `json:"client_id"`
	Scope     string   `json:"scope,omitempty"`
	SessionID string   `json:"sid,omitempty"`
	AuthTime  int64    `json:"auth_time,omitempty"`
	ACR       string   `json:"acr,omitempty"`
	AMR       []string `json:"amr,omitempty"`
	// Confirmation binds the token to a key (RFC 7800 / RFC 9449 "jkt",
	// RFC 8705 "x5t#S256").
	Confirmation map[string]string `json:"cnf,omitempty"`
}

// Audience is "aud": a string or an array of strings on the wire.
type Audience []string

// MarshalJSON writes a single audience as a string, as most verifiers expect.
func (a Audience) MarshalJSON() ([]byte, error) {
	if len(a) == 1 {
		return json.Marshal(a[0])
	}
	return json.Marshal([]string(a))
}

// UnmarshalJSON accepts a string or an array of strings.
func (a *Audience) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = Audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New(`"aud" must be a string or an array of strings`)
	}
	*a = many
	return nil
}

// Contains reports whether aud names s.
func (a Audience) Contains(s string) bool {
	for _, x := range a {
		if x == s {
			return true
		}
	}
	return false
}

// Mint signs c with key (kid, alg) as an RFC 9068 access token.
func Mint(c Claims, kid string, alg jose.SignatureAlgorithm, key crypto.Signer) (string, error) {
	payload, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("accesstoken: %w", err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: key, KeyID: kid}},
		(&jose.SignerOptions{}).WithType(Type))
	if err != nil {
		return "", fmt.Errorf("accesstoken: %w", err)
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("accesstoken: sign: %w", err)
	}
	compact, err := obj.CompactSerialize()
	if err != nil {
		return "", fmt.Errorf("accesstoken: %w", err)
	}
	if pub, ok := key.Public().(*ecdsa.PublicKey); ok {
		compact, err = lowS(compact, pub.Curve)
	}
	return compact, err
}

// lowS rewrites an ECDSA-signed compact JWS to the signature's low-s form.
// (r, s) and (r, n−s) are both valid signatures of one message, so a
// verifier accepting both would take two spellings of one token (two
// cache keys, two strings a denylist must know): in the spirit of RFC 8725
// §3.1, Tessera issues only s ≤ n/2 and Verify refuses the other half.
// Go's crypto/ecdsa draws s from the whole range.
func lowS(compact string, curve elliptic.Curve) (string, error) {
	dot := strings.LastIndexByte(compact, '.')
	sig, err := b64url.DecodeString(compact[dot+1:])
	if err != nil || len(sig)%2 != 0 {
		return "", fmt.Errorf("accesstoken: signature encoding")
	}
	n := curve.Params().N
	s := new(big.Int).SetBytes(sig[len(sig)/2:])
	if s.Cmp(new(big.Int).Rsh(n, 1)) <= 0 {
		return compact, nil
	}
	s.Sub(n, s).FillBytes(sig[len(sig)/2:])
	return compact[:dot+1] + b64url.EncodeToString(sig), nil
}

// highS reports whether an ECDSA r||s signature has s > n/2 (see lowS).
func highS(curve elliptic.Curve, sig []byte) bool {
	if len(sig)%2 != 0 {
		return true
	}
	n := curve.Params().N
	return new(big.Int).SetBytes(sig[len(sig)/2:]).Cmp(new(big.Int).Rsh(n, 1)) > 0
}

// Errors a verifier returns; every one of them means "not a valid token".
var (
	ErrMalformed  = errors.New("accesstoken: malformed")
	ErrHeader     = errors.New("accesstoken: refused header")
	ErrUnknownKey = errors.New("accesstoken: unknown key")
	ErrSignature  = errors.New("accesstoken: bad signature")
	ErrClaims     = errors.New("accesstoken: invalid claims")
	ErrExpired    = errors.New("accesstoken: expired")
)

// KeyFunc returns the public key for kid, or an error wrapping ErrUnknownKey.
type KeyFunc func(kid string) (*jose.JSONWebKey, error)

// Verifier checks access tokens. Its zero value is unusable: set Issuer,
// Audience, Algorithms and Keys.
type Verifier struct {
	Issuer     string
	Audience   string // "" accepts any audience (the server checking its own tokens)
	Algorithms []jose.SignatureAlgorithm
	Keys       KeyFunc
	// Leeway tolerates clock skew on exp, nbf and iat. Default 30s if 0.
	Leeway time.Duration
	// MaxLifetime is the longest exp − iat accepted (plus Leeway): the
	// issuer's access-token lifetime. A token claiming to live longer was
	// not minted by a well-behaved issuer, and one minted with a stolen key
	// must not outlive the key's revocation. Default DefaultMaxLifetime if 0.
	MaxLifetime time.Duration
	Now         func() time.Time
}

// DefaultMaxLifetime is a Verifier's MaxLifetime when none is set: four
// times Tessera's default access-token lifetime (15 min).
const DefaultMaxLifetime = time.Hour

// Verify checks a compact JWS and returns its claims. It refuses: anything
// over MaxLen, any algorithm not in Algorithms (so "none" and HMAC key
// confusion are impossible), a typ other than at+jwt, a missing or odd kid,
// jku/x5u/x5c/jwk/crit headers (never followed), an unknown kid, a bad
// signature, non-object or duplicate-key claims, and wrong iss, aud, exp,
// nbf or iat. The signature is checked by golang-jwt's implementation of
// the algorithm; header and claims are read by the strict decoder in
// decode.go.
func (v *Verifier) Verify(compact string) (*Claims, error) {
	// RFC 7515 §7.1: BASE64URL(header) "." BASE64URL(payload) "." BASE64URL(signature).
	// The base64 decoder skips CR and LF; refusing them keeps one token one string.
	if len(compact) > MaxLen || strings.Count(compact, ".") != 2 ||
		strings.IndexByte(compact, '\r') >= 0 || strings.IndexByte(compact, '\n') >= 0 {
		return nil, ErrMalformed
	}
	dot1 := strings.IndexByte(compact, '.')
	dot2 := strings.LastIndexByte(compact, '.')
	hdrJSON, err := decodeSegment(compact[:dot1])
	if err != nil {
		return nil, ErrMalformed
	}
	h, err := parseHeader(hdrJSON)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrHeader, err)
	}
	alg := jose.SignatureAlgorithm(h.alg)
	method := signingMethods[alg]
	if method == nil || !slices.Contains(v.Algorithms, alg) {
		return nil, fmt.Errorf("%w: alg %q is not allowed", ErrHeader, h.alg)
	}
	if !strings.EqualFold(strings.TrimPrefix(strings.ToLower(h.typ), "application/"), Type) {
		return nil, fmt.Errorf("%w: typ must be %s", ErrHeader, Type)
	}
	if !validKID(h.kid) {
		return nil, fmt.Errorf("%w: kid", ErrHeader)
	}
	// Decode everything before the key lookup: an unknown kid can make the
	// SDK refetch the JWKS, which junk must not be able to cause.
	payload, err := decodeSegment(compact[dot1+1 : dot2])
	if err != nil {
		return nil, ErrMalformed
	}
	sig, err := b64url.DecodeString(compact[dot2+1:])
	if err != nil {
		return nil, ErrSignature
	}
	key, err := v.Keys(h.kid)
	if err != nil {
		return nil, err
	}
	if key == nil || !key.IsPublic() || key.Algorithm != h.alg {
		return nil, ErrUnknownKey
	}
	if !curveFits(alg, key.Key) {
		return nil, ErrSignature
	}
	if err := method.Verify(compact[:dot2], sig, key.Key); err != nil {
		return nil, ErrSignature
	}
	if k, ok := key.Key.(*ecdsa.PublicKey); ok && highS(k.Curve, sig) {
		return nil, ErrSignature // the second spelling of a valid signature (lowS)
	}
	c, err := parseClaims(payload)
	if err != nil {
		return nil, err
	}
	return c, v.checkClaims(c)
}

// b64url is strict so that a token has one encoding: a signature that also
// decodes with other trailing bits would make two cache keys (and two
// denylist entries) of one token.
var b64url = base64.RawURLEncoding.Strict()

// decodeSegment decodes through a buffer on the stack into one string, so
// that every header and claim string is a substring of it rather than an
// allocation of its own.
func decodeSegment(seg string) (string, error) {
	var buf [1024]byte // Tessera's payloads are ~300 bytes
	dst := buf[:]
	if n := b64url.DecodedLen(len(seg)); n > len(buf) {
		dst = make([]byte, n)
	}
	n, err := b64url.Decode(dst, []byte(seg))
	if err != nil {
		return "", err
	}
	return string(dst[:n]), nil
}

// signingMethods maps each asymmetric JWS algorithm to golang-jwt's
// implementation of its signature check (RFC 7518 §3), which owns the JWA
// details (hash, ECDSA r||s, PSS). The table is explicit rather than
// jwt.GetSigningMethod, whose registry any package in the binary can
// overwrite. HMAC and "none" are absent: with a public key they can only
// be forgeries.
var signingMethods = map[jose.SignatureAlgorithm]jwt.SigningMethod{
	jose.ES256: jwt.SigningMethodES256, jose.ES384: jwt.SigningMethodES384, jose.ES512: jwt.SigningMethodES512,
	jose.EdDSA: jwt.SigningMethodEdDSA,
	jose.RS256: jwt.SigningMethodRS256, jose.RS384: jwt.SigningMethodRS384, jose.RS512: jwt.SigningMethodRS512,
	jose.PS256: jwt.SigningMethodPS256, jose.PS384: jwt.SigningMethodPS384, jose.PS512: jwt.SigningMethodPS512,
}

// curveFits refuses an ECDSA key on another curve than alg names
// (RFC 7518 §3.4), as go-jose does; golang-jwt checks only the signature
// length. The signing methods check the other key types themselves.
func curveFits(alg jose.SignatureAlgorithm, key any) bool {
	var want elliptic.Curve
	switch alg {
	case jose.ES256:
		want = elliptic.P256()
	case jose.ES384:
		want = elliptic.P384()
	case jose.ES512:
		want = elliptic.P521()
	default:
		return true
	}
	k, ok := key.(*ecdsa.PublicKey)
	return ok && k.Curve == want
}

// validKID accepts what Tessera issues (base64url thumbprints) and little
// else, so a kid can never be a path, a URL or an injection.
func validKID(kid string) bool {
	if kid == "" || len(kid) > 128 {
		return false
	}
	for i := 0; i < len(kid); i++ {
		c := kid[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func (v *Verifier) checkClaims(c *Claims) error {
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	leeway := v.Leeway
	if leeway == 0 {
		leeway = 30 * time.Second
	}
	maxLife := v.MaxLifetime
	if maxLife == 0 {
		maxLife = DefaultMaxLifetime
	}
	t := now()
	switch {
	case c.Issuer != v.Issuer:
		return fmt.Errorf("%w: iss", ErrClaims)
	case v.Audience != "" && !c.Audience.Contains(v.Audience):
		return fmt.Errorf("%w: aud", ErrClaims)
	case c.Subject == "" || c.ID == "" || c.Expiry == 0 || c.IssuedAt == 0:
		return fmt.Errorf("%w: sub, jti, exp and iat are required", ErrClaims)
	case !t.Before(time.Unix(c.Expiry, 0).Add(leeway)):
		return ErrExpired
	case c.NotBefore != 0 && t.Add(leeway).Before(time.Unix(c.NotBefore, 0)):
		return fmt.Errorf("%w: not yet valid", ErrClaims)
	case t.Add(leeway).Before(time.Unix(c.IssuedAt, 0)):
		return fmt.Errorf("%w: issued in the future", ErrClaims)
	case time.Unix(c.Expiry, 0).Sub(time.Unix(c.IssuedAt, 0)) > maxLife+leeway:
		// Compared as durations from Unix seconds: exp − iat of a forged
		// token can be anything, and time.Duration saturates rather than wraps.
		return fmt.Errorf("%w: exp - iat exceeds the access-token lifetime", ErrClaims)
	}
	return nil
}
