package forwardauth

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/session"
	"github.com/tessera-auth/tessera/token"
	"github.com/tessera-auth/tessera/tokenstate"
)

// sessions answers every token with one session, or err.
type sessions struct {
	s   session.Session
	err error
}

func (f sessions) Validate(context.Context, string, session.Use) (session.Session, error) {
	return f.s, f.err
}

type tokens struct {
	a   tokenstate.Access
	err error
}

func (f tokens) Access(context.Context, string, session.Use) (tokenstate.Access, error) {
	return f.a, f.err
}

func TestCleanPath(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		known    bool
	}{
		{"/a/b?x=1", "/a/b", true},
		{"/a/../b", "/b", true},
		{"/%61dmin", "/admin", true},
		{"//admin#frag", "/admin", true},
		{"/admin/", "/admin", true},
		{"/%2e%2e/admin", "/admin", true},
		{"/%zz", "", false},
		{"admin", "", false},
		{"", "", false},
	} {
		got, known := cleanPath(tc.in)
		if got != tc.want || known != tc.known {
			t.Errorf("cleanPath(%q) = %q, %v; want %q, %v", tc.in, got, known, tc.want, tc.known)
		}
	}
}

func FuzzCleanPath(f *testing.F) {
	for _, s := range []string{"/", "/a/../../b", "/%2F..%2Fadmin", "/x?y", "%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		p, known := cleanPath(in)
		if !known {
			if p != "" {
				t.Fatalf("unknown path with a value %q", p)
			}
			return
		}
		if !strings.HasPrefix(p, "/") || strings.Contains(p+"/", "/../") || strings.Contains(p, "//") {
			t.Fatalf("cleanPath(%q) = %q", in, p)
		}
	})
}

func TestUnderPrefix(t *testing.T) {
	c := New(sessions{}, nil, Config{Rules: []Rule{{PathPrefix: "/admin/", AAL: 2}}})
	pfx := c.rules[0].PathPrefix
	for p, want := range map[string]bool{"/admin": true, "/admin/x": true, "/administrator": false, "/": false} {
		if underPrefix(p, pfx) != want {
			t.Errorf("%s under %s: %v", p, pfx, !want)
		}
	}
}

func TestHasScopes(t *testing.T) {
	if !hasScopes("a b  c", []string{"c", "a"}) || hasScopes("ab", []string{"a"}) || hasScopes("", []string{"a"}) || !hasScopes("", nil) {
		t.Fatal("hasScopes")
	}
}

// An error that is not a verdict on the credential (the store's silence,
// or anything unexpected) is Forbidden, never Allow or Unauthenticated.
func TestUnjudgedIsForbidden(t *testing.T) {
	jwt := "eyJhbGciOiJFUzI1NiJ9.e30.c2ln"
	if token.KindOf(jwt) != token.JWT {
		t.Fatal("not a JWT to token.KindOf")
	}
	for _, err := range []error{session.ErrUnavailable, errors.New("surprise")} {
		c := New(sessions{err: err}, tokens{err: err}, Config{})
		for _, req := range []Request{{Cookie: "tss_x"}, {Bearer: "tss_x"}, {Bearer: jwt}} {
			if d := c.Check(context.Background(), req); d.Outcome != Forbidden || d.Reason != ReasonUnavailable || d.Err == nil {
				t.Fatalf("%v for %+v: %+v", err, req, d)
			}
		}
	}
	for _, err := range []error{session.ErrInvalid, session.ErrExpired, session.ErrRevoked} {
		c := New(sessions{err: err}, nil, Config{})
		if d := c.Check(context.Background(), Request{Cookie: "tss_x"}); d.Outcome != Unauthenticated {
			t.Fatalf("%v: %+v", err, d)
		}
	}
}

// An unknown target (a proxy that did not say, or one not trusted) is
// held to the strictest reading: unsafe method, every rule.
func TestUnknownTarget(t *testing.T) {
	s := session.Session{ID: "s1", UserID: "u1", AAL: 1, AuthTime: time.Unix(1000, 0)}
	c := New(sessions{s: s}, nil, Config{
		Rules: []Rule{{Host: "admin.test", PathPrefix: "/ops", AAL: 2}},
		Now:   func() time.Time { return time.Unix(2000, 0) },
	})
	ctx := context.Background()
	if d := c.Check(ctx, Request{Cookie: "tss_x", Target: Target{Method: "GET", Host: "app.test", Path: "/ops"}}); d.Outcome != Allow {
		t.Fatalf("known GET elsewhere: %+v", d)
	}
	if d := c.Check(ctx, Request{Cookie: "tss_x", Target: Target{Host: "app.test", Path: "/"}, SecFetchSite: "same-origin"}); d.Reason != ReasonCSRF {
		t.Fatalf("unknown method: %+v", d)
	}
	if d := c.Check(ctx, Request{Cookie: "tss_x", Target: Target{Method: "GET", Path: "/ops"}}); d.Reason != ReasonAAL {
		t.Fatalf("unknown host: %+v", d)
	}
	if d := c.Check(ctx, Request{Cookie: "tss_x", Target: Target{Method: "GET", Host: "admin.test"}}); d.Reason != ReasonAAL {
		t.Fatalf("unknown path: %+v", d)
	}
}
