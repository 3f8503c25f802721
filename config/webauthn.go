package config

import (
	"net/url"
	"strings"
)

// WebAuthnConfig is the WebAuthn relying party (docs/mfa.md). Passkeys
// are scoped to the RP ID: changing it later orphans every registered
// credential.
type WebAuthnConfig struct {
	// RPID is the relying party id (W3C WebAuthn §5.1.2): a domain, no
	// scheme or port, equal to or a registrable suffix of every origin's
	// host, such as example.com. Default: the host of public_origin;
	// without either, WebAuthn is off.
	RPID string `yaml:"rp_id"`
	// RPName is the name authenticators show. Default Tessera.
	RPName string `yaml:"rp_name"`
	// Origins are the origins WebAuthn responses may come from
	// (clientDataJSON.origin, §7.1 step 9). Default: public_origin.
	Origins []string `yaml:"origins"`
}

// Effective returns w with the defaults derived from publicOrigin, and
// whether WebAuthn is on (an RP ID is known).
func (w WebAuthnConfig) Effective(publicOrigin string) (WebAuthnConfig, bool) {
	if w.RPName == "" {
		w.RPName = "Tessera"
	}
	if len(w.Origins) == 0 && publicOrigin != "" {
		w.Origins = []string{publicOrigin}
	}
	if w.RPID == "" && publicOrigin != "" {
		if u, err := url.Parse(publicOrigin); err == nil {
			w.RPID = u.Hostname()
		}
	}
	return w, w.RPID != "" && len(w.Origins) > 0
}

func (w WebAuthnConfig) validate(publicOrigin string, bad func(field, format string, args ...any)) {
	eff, on := w.Effective(publicOrigin)
	if w.RPID != "" && (strings.ContainsAny(w.RPID, ":/ ") || strings.Trim(w.RPID, ".") != w.RPID) {
		bad("webauthn.rp_id", "%q is not a domain (no scheme, port or path)", w.RPID)
		return
	}
	if !on {
		if w.RPID != "" || len(w.Origins) > 0 {
			bad("webauthn", "needs both rp_id and origins (or public_origin)")
		}
		return
	}
	for _, o := range eff.Origins {
		u, err := url.Parse(o)
		if err != nil || u.Scheme == "" || u.Host == "" || u.Path != "" || u.RawQuery != "" {
			bad("webauthn.origins", "%q is not scheme://host[:port]", o)
			continue
		}
		// §5.1.2: the RP ID must be the origin's host or a suffix of it.
		if h := u.Hostname(); h != eff.RPID && !strings.HasSuffix(h, "."+eff.RPID) {
			bad("webauthn.origins", "%q is not within rp_id %q", o, eff.RPID)
		}
		// §13.4.1: a secure context only; http is for localhost.
		if u.Scheme != "https" && !(u.Scheme == "http" && u.Hostname() == "localhost") {
			bad("webauthn.origins", "%q: WebAuthn needs https (http only for localhost)", o)
		}
	}
}
