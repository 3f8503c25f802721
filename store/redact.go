package store

import (
	"net/url"
	"strings"
)

// Redact returns a store URL fit for messages and logs: without the
// password of its user info or of a password query parameter (libpq's
// alternative). A URL that does not parse as scheme://… is reduced to its
// scheme, since any part of it may be a secret; a sqlite: URL names a file
// and is returned as is.
func Redact(raw string) string {
	scheme, rest, ok := strings.Cut(raw, ":")
	if !ok {
		return "(store URL)"
	}
	if strings.EqualFold(scheme, "sqlite") && !strings.HasPrefix(rest, "//") {
		return raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" {
		return scheme + ":(unparsable URL)"
	}
	q := u.Query()
	for k := range q {
		if strings.EqualFold(k, "password") {
			q[k] = []string{"xxxxx"}
			u.RawQuery = q.Encode()
		}
	}
	return u.Redacted()
}
