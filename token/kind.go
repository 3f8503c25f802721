package token

import "strings"

// JWT is what KindOf calls a compact JWS (RFC 7515 §7.1: three
// dot-separated parts). It is not an opaque kind: it has no prefix, and
// New and Parse refuse it.
const JWT Kind = 255

// KindOf says what a presented credential is by its shape alone, with no
// store access and no checksum check: a JWT, or the opaque kind its prefix
// names (at the opaque length), or 0 for anything else. It is the one
// place that tells token kinds apart; the flows that then act on a kind
// still parse and verify it.
func KindOf(raw string) Kind {
	if strings.Count(raw, ".") == 2 {
		return JWT
	}
	if len(raw) != Len {
		return 0
	}
	p := raw[:prefixLen]
	for k := Session; int(k) < len(prefixes); k++ {
		if prefixes[k] == p {
			return k
		}
	}
	return 0
}
