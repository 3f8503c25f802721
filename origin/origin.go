package origin

import "strings"

// Verdict is what the headers say about where a request comes from.
type Verdict int

const (
	// Refused: the request comes, or may come, from another origin that
	// is not trusted to send it.
	Refused Verdict = iota
	// Allowed: from the target's own origin, or a trusted one.
	Allowed
	// Unknown: neither Origin nor Sec-Fetch-Site was sent. Every current
	// browser sends one of them on a state-changing request, so this is
	// not a browser (which a forgery needs), or a very old one: a caller
	// decides whether that is enough.
	Unknown
)

// Request is what the rule reads of a request.
type Request struct {
	// Origin and SecFetchSite are the Origin and Sec-Fetch-Site headers.
	Origin, SecFetchSite string
	// Target is the origin the request was addressed to
	// (scheme://host[:port]); "" when it is not known, and then only
	// Policy's origins and Sec-Fetch-Site: same-origin can allow it.
	Target string
}

// Policy is who, besides the target itself, may send a state-changing
// request. Origins are serialized as browsers send them
// (scheme://host[:port], no path). The zero Policy trusts no other origin.
type Policy struct {
	// SameSite are origins trusted like the target's own: allowed unless
	// the browser says the request is cross-site (Sec-Fetch-Site:
	// cross-site), which such an origin never is, so the claim shows
	// something is wrong.
	SameSite map[string]bool
	// CrossSite are origins trusted even from another site: a browser
	// sends Sec-Fetch-Site: cross-site for them, and that must not
	// refuse them (an SPA on another site allowed by CORS, or, for a
	// forward-auth target, Tessera or a sibling app on another domain).
	CrossSite map[string]bool
}

// Check applies the rule:
//
//   - Origin "null" (an opaque origin: a sandboxed frame, a data: URL, a
//     cross-origin redirect, RFC 6454 §7.3) is refused;
//   - an Origin in CrossSite is allowed, whatever Sec-Fetch-Site says;
//   - Sec-Fetch-Site: cross-site is refused, even with an Origin that
//     matches (the two disagree: a browser never sends that pair);
//   - an Origin is allowed if it is the Target (compared without regard
//     to case: scheme and host are case-insensitive) or in SameSite,
//     and refused otherwise;
//   - without Origin, Sec-Fetch-Site decides: only same-origin is
//     allowed (same-site includes sibling subdomains, which a session
//     cookie must not trust);
//   - with neither header the answer is Unknown.
func (p Policy) Check(r Request) Verdict {
	o, site := r.Origin, r.SecFetchSite
	if o == "null" {
		return Refused
	}
	if o != "" && p.CrossSite[o] {
		return Allowed
	}
	if site == "cross-site" {
		return Refused
	}
	if o != "" {
		if p.SameSite[o] || r.Target != "" && strings.EqualFold(o, r.Target) {
			return Allowed
		}
		return Refused
	}
	if site != "" {
		if site == "same-origin" {
			return Allowed
		}
		return Refused
	}
	return Unknown
}

func (v Verdict) String() string {
	switch v {
	case Allowed:
		return "allowed"
	case Unknown:
		return "unknown"
	}
	return "refused"
}
