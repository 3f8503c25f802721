package protocol

import "strings"

// ParseBearer reads one Authorization header value as RFC 6750 §2.1 does:
// the rule Tessera and the SDK share, so that a header one accepts the
// other reads the same way. A header of another scheme carries no bearer
// credential (ok and malformed both false); a Bearer header without a
// b64token is malformed, which RFC 6750 §3.1 answers with 400
// invalid_request rather than 401. The scheme ends at the first byte that
// cannot be in one (an RFC 9110 §5.6.2 token), and only spaces may follow
// it (RFC 7235 §2.1: 1*SP): "Bearer<TAB><token>" is a malformed Bearer
// header, not a header of some other scheme.
func ParseBearer(h string) (tok string, ok, malformed bool) {
	n := 0
	for n < len(h) && isTchar(h[n]) {
		n++
	}
	if !strings.EqualFold(h[:n], "Bearer") {
		return "", false, false
	}
	if n == len(h) || h[n] != ' ' {
		return "", false, true
	}
	tok = strings.TrimLeft(h[n:], " ")
	if !IsB64Token(tok) {
		return "", false, true
	}
	return tok, true, false
}

// IsB64Token reports whether s matches RFC 6750 §2.1's b64token:
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func IsB64Token(s string) bool {
	body := strings.TrimRight(s, "=")
	if body == "" {
		return false
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~+/", c) >= 0) {
			return false
		}
	}
	return true
}

// isTchar reports whether c may appear in an RFC 9110 §5.6.2 token.
func isTchar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}
