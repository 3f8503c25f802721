package accesstoken

import (
	"bytes"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-jose/go-jose/v4"
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
	return obj.CompactSerialize()
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
	Now    func() time.Time
}

// Verify checks a compact JWS and returns its claims. It refuses: anything
// over MaxLen, any algorithm not in Algorithms (so "none" and HMAC key
// confusion are impossible), a typ other than at+jwt, a missing or odd kid,
// jku/x5u/x5c/jwk/crit headers (never followed), an unknown kid, a bad
// signature, non-object or duplicate-key claims, and wrong iss, aud, exp,
// nbf or iat.
func (v *Verifier) Verify(compact string) (*Claims, error) {
	if len(compact) > MaxLen || strings.Count(compact, ".") != 2 {
		return nil, ErrMalformed
	}
	if err := checkHeaderMembers(compact[:strings.IndexByte(compact, '.')]); err != nil {
		return nil, err
	}
	obj, err := jose.ParseSigned(compact, v.Algorithms)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrHeader, err)
	}
	if len(obj.Signatures) != 1 {
		return nil, ErrMalformed
	}
	h := obj.Signatures[0].Protected
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); !strings.EqualFold(strings.TrimPrefix(strings.ToLower(typ), "application/"), Type) {
		return nil, fmt.Errorf("%w: typ must be %s", ErrHeader, Type)
	}
	if h.JSONWebKey != nil {
		return nil, fmt.Errorf("%w: embedded keys are never trusted", ErrHeader)
	}
	if !validKID(h.KeyID) {
		return nil, fmt.Errorf("%w: kid", ErrHeader)
	}
	key, err := v.Keys(h.KeyID)
	if err != nil {
		return nil, err
	}
	if key == nil || !key.IsPublic() || key.Algorithm != h.Algorithm {
		return nil, ErrUnknownKey
	}
	payload, err := obj.Verify(key)
	if err != nil {
		return nil, ErrSignature
	}
	c, err := parseClaims(payload)
	if err != nil {
		return nil, err
	}
	return c, v.checkClaims(c)
}

// allowedHeader lists the only protected-header members Tessera issues.
// Everything else (jku, x5u, x5c, jwk, crit, b64, …) is refused outright:
// a verifier that never reads a member cannot be tricked by it.
var allowedHeader = map[string]bool{"alg": true, "kid": true, "typ": true}

func checkHeaderMembers(seg string) error {
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return ErrMalformed
	}
	names, err := objectMembers(raw)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrHeader, err)
	}
	for _, n := range names {
		if !allowedHeader[n] {
			return fmt.Errorf("%w: %q header", ErrHeader, n)
		}
	}
	return nil
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

// parseClaims decodes the payload strictly: one JSON object, no duplicate
// member names (which parsers resolve differently, RFC 7519 §4), right types.
func parseClaims(payload []byte) (*Claims, error) {
	if _, err := objectMembers(payload); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrClaims, err)
	}
	var c Claims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrClaims, err)
	}
	return &c, nil
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
	}
	return nil
}

// objectMembers returns the member names of a JSON object, refusing
// anything else, duplicate names (compared after unescaping, so "a" and
// "\u0061" collide), invalid UTF-8 and trailing data. json.Valid checks the
// syntax first, so the scan below only has to track strings and depth; a
// differential fuzz test holds it to a json.Decoder-based reference.
func objectMembers(b []byte) ([]string, error) {
	if !utf8.Valid(b) {
		return nil, errors.New("invalid UTF-8")
	}
	if !json.Valid(b) {
		return nil, errors.New("not JSON")
	}
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) == 0 || b[0] != '{' {
		return nil, errors.New("not a JSON object")
	}
	names := make([]string, 0, 12)
	depth, inString, escaped, expectKey, keyStart := 0, false, false, false, -1
	for i, c := range b {
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
				if keyStart >= 0 {
					name, err := memberName(b[keyStart : i+1])
					if err != nil {
						return nil, err
					}
					for _, n := range names {
						if n == name {
							return nil, fmt.Errorf("duplicate member %q", name)
						}
					}
					names = append(names, name)
					keyStart = -1
				}
			}
			continue
		}
		switch c {
		case '"':
			inString = true
			if depth == 1 && expectKey {
				keyStart, expectKey = i, false
			}
		case '{', '[':
			depth++
			if depth == 1 {
				expectKey = true
			}
		case '}', ']':
			depth--
		case ',':
			if depth == 1 {
				expectKey = true
			}
		}
	}
	return names, nil
}

// memberName unescapes a quoted member name; most have no escapes.
func memberName(quoted []byte) (string, error) {
	if bytes.IndexByte(quoted, '\\') < 0 {
		return string(quoted[1 : len(quoted)-1]), nil
	}
	var s string
	if err := json.Unmarshal(quoted, &s); err != nil {
		return "", err
	}
	return s, nil
}
