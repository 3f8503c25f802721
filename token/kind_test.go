package token

import (
	"strings"
	"testing"
)

func TestKindOf(t *testing.T) {
	mk := func(k Kind) string {
		tok, err := New(k)
		if err != nil {
			t.Fatal(err)
		}
		return tok.Reveal()
	}
	ses := mk(Session)
	for _, tc := range []struct {
		name string
		raw  string
		want Kind
	}{
		{"session", ses, Session},
		{"refresh", mk(Refresh), Refresh},
		{"access", mk(Access), Access},
		{"client secret", mk(ClientSecret), ClientSecret},
		{"jwt", "eyJhbGciOiJFUzI1NiJ9.e30.c2ln", JWT},
		{"jwt shape wins over a prefix", "tss_" + strings.Repeat("a", Len-6) + "..", JWT},
		{"one dot", "a.b", 0},
		{"short session", ses[:Len-1], 0},
		{"long session", ses + "A", 0},
		{"unknown prefix", "tsz_" + ses[4:], 0},
		{"empty", "", 0},
	} {
		if got := KindOf(tc.raw); got != tc.want {
			t.Errorf("%s: KindOf = %v, want %v", tc.name, got, tc.want)
		}
	}
	if JWT.Prefix() != "" || JWT.String() != "jwt" {
		t.Errorf("JWT: prefix %q, name %q", JWT.Prefix(), JWT.String())
	}
	if _, err := Parse(JWT, ses); err == nil {
		t.Error("Parse(JWT) accepted a token")
	}
}
