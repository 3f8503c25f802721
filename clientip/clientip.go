// Package clientip finds the address of the client behind a request: the TCP
// peer, or what trusted reverse proxies say in X-Forwarded-For or Forwarded.
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
}

// New returns a resolver that believes forwarding headers only when the TCP
// peer, and each hop it vouches for, is inside one of the trusted CIDRs.
func New(trustedCIDRs []string) (*Resolver, error) {
	r := &Resolver{}
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
	hops := forwardedFor(req.Header)
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
// first, from Forwarded (RFC 7239) if present, else X-Forwarded-For.
func forwardedFor(h http.Header) []string {
	var hops []string
	if fw := h.Values("Forwarded"); len(fw) > 0 {
		for _, line := range fw {
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
