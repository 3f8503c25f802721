package app

import (
	"github.com/tessera-auth/tessera/config"
	"github.com/tessera-auth/tessera/forwardauth"
	"github.com/tessera-auth/tessera/server"
)

// forwardAuth maps the forward_auth section onto the endpoint's policy
// and header names.
func forwardAuth(c config.ForwardAuth) (forwardauth.Config, server.ForwardAuthHeaders) {
	fc := forwardauth.Config{
		CSRF: c.CSRF,
		Service: forwardauth.ServiceTokens{
			Enabled: c.ServiceTokens.Enabled, Scope: c.ServiceTokens.Scope, Audience: c.ServiceTokens.Audience,
		},
	}
	for _, r := range c.Rules {
		fc.Rules = append(fc.Rules, forwardauth.Rule{
			Host: r.Host, PathPrefix: r.PathPrefix, Scope: r.Scope, AAL: r.AAL, MaxAuthAge: r.MaxAuthAge.D(),
		})
	}
	h := c.Headers
	return fc, server.ForwardAuthHeaders{
		UserID: h.UserID, Username: h.Username, SessionID: h.SessionID,
		ClientID: h.ClientID, Scope: h.Scope, AAL: h.AAL,
	}
}
