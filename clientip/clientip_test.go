package clientip

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestClientIP(t *testing.T) {
	xff, err := New([]string{"10.0.0.0/8", "fd00::/8"}, XForwardedFor)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		remote string
		xff    string
		fwd    string
		want   string
	}{
		{"untrusted peer ignores headers", "203.0.113.9:5000", "198.51.100.1", "", "203.0.113.9"},
		{"trusted peer, one hop", "10.1.1.1:5000", "198.51.100.1", "", "198.51.100.1"},
		{"spoofed left entries are skipped", "10.1.1.1:5000", "1.2.3.4, 198.51.100.1", "", "198.51.100.1"},
		{"chain of trusted proxies", "10.1.1.1:5000", "198.51.100.1, 10.2.2.2", "", "198.51.100.1"},
		{"all trusted: leftmost", "10.1.1.1:5000", "10.3.3.3, 10.2.2.2", "", "10.3.3.3"},
		{"garbage hop stops the walk", "10.1.1.1:5000", "198.51.100.1, nonsense", "", "10.1.1.1"},
		{"no header", "10.1.1.1:5000", "", "", "10.1.1.1"},
		{"client-sent Forwarded is ignored", "10.1.1.1:5000", "198.51.100.1", "for=10.9.9.9", "198.51.100.1"},
		{"ipv6 peer", "[fd00::1]:443", "2001:db8::5", "", "2001:db8::5"},
		{"v4-mapped peer", "[::ffff:10.1.1.1]:1", "198.51.100.7", "", "198.51.100.7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := &http.Request{RemoteAddr: tt.remote, Header: http.Header{}}
			if tt.xff != "" {
				req.Header.Set("X-Forwarded-For", tt.xff)
			}
			if tt.fwd != "" {
				req.Header.Set("Forwarded", tt.fwd)
			}
			if got := xff.ClientIP(req); got.String() != tt.want {
				t.Fatalf("ClientIP = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestForwardedHeader(t *testing.T) {
	r, _ := New([]string{"10.0.0.0/8"}, Forwarded)
	for _, tt := range []struct{ fwd, xff, want string }{
		{`for=192.0.2.60;proto=https, for="[2001:db8::1]:4711"`, "", "2001:db8::1"},
		{"for=192.0.2.60", "10.9.9.9", "192.0.2.60"}, // client-sent XFF ignored
		{"", "192.0.2.1", "10.1.1.1"},
	} {
		req := &http.Request{RemoteAddr: "10.1.1.1:5000", Header: http.Header{}}
		if tt.fwd != "" {
			req.Header.Set("Forwarded", tt.fwd)
		}
		if tt.xff != "" {
			req.Header.Set("X-Forwarded-For", tt.xff)
		}
		if got := r.ClientIP(req); got.String() != tt.want {
			t.Errorf("Forwarded %q, XFF %q: %s, want %s", tt.fwd, tt.xff, got, tt.want)
		}
	}
	if _, err := New(nil, "x-real-ip"); err == nil {
		t.Fatal("unknown header accepted")
	}
}

func TestNoTrustedProxies(t *testing.T) {
	var r Resolver
	req := &http.Request{RemoteAddr: "127.0.0.1:1", Header: http.Header{"X-Forwarded-For": {"8.8.8.8"}}}
	if got := r.ClientIP(req); got.String() != "127.0.0.1" {
		t.Fatalf("ClientIP = %s: headers believed without trusted proxies", got)
	}
}

func TestBadCIDR(t *testing.T) {
	if _, err := New([]string{"10.0.0.1"}, ""); err == nil {
		t.Fatal("accepted an address without a prefix length")
	}
}

func TestFromTrustedProxy(t *testing.T) {
	r, err := New([]string{"10.0.0.0/8"}, XForwardedFor)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		remote string
		want   bool
	}{
		{"10.1.2.3:443", true},
		{"[::ffff:10.1.2.3]:443", true},
		{"192.0.2.1:443", false},
		{"10.1.2.3", false}, // no port: not a TCP peer we can vouch for
		{"", false},
	} {
		req := httptest.NewRequest("GET", "/", nil)
		req.RemoteAddr = tc.remote
		if got := r.FromTrustedProxy(req); got != tc.want {
			t.Errorf("%q: %v, want %v", tc.remote, got, tc.want)
		}
	}
	var zero Resolver
	req := httptest.NewRequest("GET", "/", nil)
	req.RemoteAddr = "10.1.2.3:443"
	if zero.FromTrustedProxy(req) {
		t.Error("the zero resolver trusts a proxy")
	}
}
