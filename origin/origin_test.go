package origin

import "testing"

func TestCheck(t *testing.T) {
	const (
		self = "https://auth.example"
		spa  = "https://spa.other.example" // another site, allowed by CORS
		sib  = "https://app.example"       // trusted, same site
		evil = "https://evil.example"
	)
	// server's policy: its public origin is itself (SameSite), its
	// allowed_origins may be other sites (CrossSite).
	server := Policy{SameSite: map[string]bool{self: true, sib: true}, CrossSite: map[string]bool{spa: true}}
	// forwardauth's: every trusted origin is another origin than the
	// target, and may be another site.
	fwd := Policy{CrossSite: map[string]bool{self: true, sib: true, spa: true}}
	none := Policy{}
	for _, tt := range []struct {
		name         string
		p            Policy
		origin, site string
		target       string
		want         Verdict
	}{
		{"own origin", none, self, "", self, Allowed},
		{"own origin, same-origin", none, self, "same-origin", self, Allowed},
		{"own origin, other case", none, "HTTPS://Auth.Example", "", self, Allowed},
		{"own origin, target unknown", none, self, "", "", Refused},
		{"own origin claimed cross-site", none, self, "cross-site", self, Refused},
		{"own origin claimed cross-site, server", server, self, "cross-site", self, Refused},
		{"same-site origin", server, sib, "same-site", self, Allowed},
		{"same-site origin claimed cross-site", server, sib, "cross-site", self, Refused},
		{"CORS SPA, cross-site", server, spa, "cross-site", self, Allowed},
		{"CORS SPA, no fetch metadata", server, spa, "", self, Allowed},
		{"forward-auth trusted origin, cross-site", fwd, self, "cross-site", "https://app.test", Allowed},
		{"forward-auth target, cross-site", fwd, "https://app.test", "cross-site", "https://app.test", Refused},
		{"forward-auth target", fwd, "https://app.test", "", "https://app.test", Allowed},
		{"untrusted origin", server, evil, "", self, Refused},
		{"untrusted origin, cross-site", server, evil, "cross-site", self, Refused},
		{"untrusted origin claiming same-origin", server, evil, "same-origin", self, Refused},
		{"other port", none, "https://auth.example:8443", "", self, Refused},
		{"other scheme", none, "http://auth.example", "", self, Refused},
		{"null origin", server, "null", "", self, Refused},
		{"null origin, same-origin", server, "null", "same-origin", self, Refused},
		{"null origin even if trusted", Policy{CrossSite: map[string]bool{"null": true}, SameSite: map[string]bool{"null": true}}, "null", "", "null", Refused},
		{"no origin, same-origin", none, "", "same-origin", self, Allowed},
		{"no origin, same-site", none, "", "same-site", self, Refused},
		{"no origin, cross-site", none, "", "cross-site", self, Refused},
		{"no origin, none (typed URL)", none, "", "none", self, Refused},
		{"no origin, unknown value", none, "", "bogus", self, Refused},
		{"neither header", server, "", "", self, Unknown},
		{"neither header, target unknown", none, "", "", "", Unknown},
	} {
		if got := tt.p.Check(Request{Origin: tt.origin, SecFetchSite: tt.site, Target: tt.target}); got != tt.want {
			t.Errorf("%s: Check = %v, want %v", tt.name, got, tt.want)
		}
	}
}
