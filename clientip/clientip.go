package clientip

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// Resolver finds client addresses. The zero value trusts no proxy.
// Safe for concurrent use.
type Resolver struct {
	trusted []netip.Prefix
	header  string
}

// Headers a resolver can read the forwarding chain from.
const (
	XForwardedFor = "x-forwarded-for"
	Forwarded     = "forwarded" // RFC 7239
)

// New returns a resolver that believes the forwarding header only when the
// TCP peer, and each hop it vouches for, is inside one of the trusted CIDRs.
// It reads exactly one header, the one the proxies are configured to write
// (XForwardedFor or Forwarded): proxies append to their own header but pass
// the other one through from the client, so reading both lets a client
// choose its address.
func New(trustedCIDRs []string, header string) (*Resolver, error) {
	switch header {
	case "", XForwardedFor:
		header = XForwardedFor
	case Forwarded:
	default:
		return nil, fmt.Errorf("clientip: header %q is not %s or %s", header, XForwardedFor, Forwarded)
	}
	r := &Resolver{header: header}
	for _, c := range trustedCIDRs {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			return nil, fmt.Errorf("clientip: trusted proxy %q: %w", c, err)
		}
		r.trusted = append(r.trusted, p.Masked())
	}
	return r, nil
}

func (r *Resolver) isTrusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range r.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// FromTrustedProxy reports whether req's TCP peer is a trusted proxy: only
// then may other headers a proxy writes about the original request (such
// as forward auth's X-Forwarded-Method and X-Forwarded-Uri) be believed.
func (r *Resolver) FromTrustedProxy(req *http.Request) bool {
	if len(r.trusted) == 0 {
		return false
	}
	peer, err := netip.ParseAddrPort(req.RemoteAddr)
	if err != nil {
		return false
	}
	return r.isTrusted(peer.Addr())
}

// ClientIP returns the client address for req. It walks the forwarding chain
// from the nearest hop outward and stops at the first address not in a trusted
// CIDR, so a client cannot spoof its address by prepending entries.
func (r *Resolver) ClientIP(req *http.Request) netip.Addr {
	peer, err := netip.ParseAddrPort(req.RemoteAddr)
	if err != nil {
		// httptest and unix sockets may give a bare or empty address.
		a, _ := netip.ParseAddr(req.RemoteAddr)
		return a.Unmap()
	}
	addr := peer.Addr().Unmap()
	if len(r.trusted) == 0 || !r.isTrusted(addr) {
		return addr
	}
	hops := forwardedFor(req.Header, r.header)
	for i := len(hops) - 1; i >= 0; i-- {
		h, ok := parseHop(hops[i])
		if !ok {
			// A garbled hop cannot be trusted, nor anything to its left.
			return addr
		}
		addr = h
		if !r.isTrusted(h) {
			return h
		}
	}
	return addr
}

// forwardedFor returns the chain of client addresses, leftmost (farthest)
// first, from the one configured header.
func forwardedFor(h http.Header, header string) []string {
	var hops []string
	if header == Forwarded {
		for _, line := range h.Values("Forwarded") {
			for elem := range strings.SplitSeq(line, ",") {
				for pair := range strings.SplitSeq(elem, ";") {
					k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
					if ok && strings.EqualFold(k, "for") {
						hops = append(hops, strings.Trim(v, `"`))
					}
				}
			}
		}
		return hops
	}
	for _, line := range h.Values("X-Forwarded-For") {
		for hop := range strings.SplitSeq(line, ",") {
			hops = append(hops, strings.TrimSpace(hop))
		}
	}
	return hops
}

func parseHop(s string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}
