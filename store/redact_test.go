package store

import (
	"strings"
	"testing"
)

// TestRedact: no password survives, in user info, in a query parameter, or
// in a URL that does not parse; the rest stays readable.
func TestRedact(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"postgres://root:SECRETPW@db:5432/test?sslmode=require", "postgres://root:xxxxx@db:5432/test?sslmode=require"},
		{"postgres://root@db/test?password=SECRETPW&sslmode=require", "postgres://root@db/test?password=xxxxx&sslmode=require"},
		{"postgres://root@db/test?PASSWORD=SECRETPW", "postgres://root@db/test?PASSWORD=xxxxx"},
		{"postgres://root:SEC%zzRETPW@db/test", "postgres:(unparsable URL)"},
		{"postgres:root:SECRETPW", "postgres:(unparsable URL)"},
		{"sqlite:/var/lib/tessera/tessera.db", "sqlite:/var/lib/tessera/tessera.db"},
		{"sqlite://root:SECRETPW@/tmp/x", "sqlite://root:xxxxx@/tmp/x"},
		{"SECRETPW", "(store URL)"},
	} {
		got := Redact(tc.in)
		if got != tc.want || strings.Contains(got, "SECRET") {
			t.Errorf("Redact(…) = %q, want %q", got, tc.want)
		}
	}
}
