package sdk

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Assurance is how the caller authenticated: when (auth_time), how
// strongly (acr: "aal1", "aal2" or "aal3", NIST SP 800-63B) and by what
// methods (amr, RFC 8176: "pwd", "otp", "hwk", "mfa", …). From a JWT's
// claims, or from Tessera's introspection answer.
type Assurance struct {
	AuthTime time.Time // zero if unknown
	ACR      string
	AMR      []string
}

// AAL is the assurance level the ACR names, 0 if unknown.
func (a Assurance) AAL() int {
	if len(a.ACR) == 4 && strings.HasPrefix(a.ACR, "aal") && a.ACR[3] >= '1' && a.ACR[3] <= '3' {
		return int(a.ACR[3] - '0')
	}
	return 0
}

// Assurance returns how the principal authenticated.
func (p *Principal) Assurance() Assurance {
	var a Assurance
	var at int64
	switch {
	case p == nil:
		return a
	case p.Claims != nil:
		at, a.ACR, a.AMR = p.Claims.AuthTime, p.Claims.ACR, p.Claims.AMR
	case p.Introspection != nil:
		at, a.ACR, a.AMR = p.Introspection.AuthTime, p.Introspection.ACR, p.Introspection.AMR
	}
	if at > 0 {
		a.AuthTime = time.Unix(at, 0)
	}
	return a
}

// Requirement is what a route demands of the caller's authentication.
type Requirement struct {
	// MinAAL is the lowest acceptable assurance level (2: a second
	// factor; 3: a hardware-bound key). 0: any.
	MinAAL int
	// MaxAge is the longest acceptable time since the user last proved a
	// credential (auth_time). 0: any.
	MaxAge time.Duration
	// Realm names the service in WWW-Authenticate. Default "api".
	Realm string
	// Now is the clock; nil: time.Now.
	Now func() time.Time
}

// RequireAuthentication admits only principals whose authentication
// meets req. Others get RFC 9470 §3's challenge: 401 with
// WWW-Authenticate: Bearer error="insufficient_user_authentication" and
// the acr_values and max_age that would do, so the client can step up
// (Tessera: POST /v1/reauth) and retry. Run it after Middleware (without
// a principal it answers a plain 401).
func RequireAuthentication(req Requirement) func(http.Handler) http.Handler {
	if req.Realm == "" {
		req.Realm = "api"
	}
	if req.Now == nil {
		req.Now = time.Now
	}
	realm := strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(req.Realm)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p := PrincipalFrom(r.Context())
			if p == nil {
				bearerError(w, realm, http.StatusUnauthorized, "", "A credential is required.")
				return
			}
			a := p.Assurance()
			weak := req.MinAAL > 0 && a.AAL() < req.MinAAL
			// An unknown auth_time is never recent.
			stale := req.MaxAge > 0 && (a.AuthTime.IsZero() || req.Now().Sub(a.AuthTime) > req.MaxAge)
			if !weak && !stale {
				next.ServeHTTP(w, r)
				return
			}
			ch := `Bearer realm="` + realm + `", error="insufficient_user_authentication", error_description="A stronger or more recent authentication is required"`
			if req.MinAAL > 0 {
				ch += `, acr_values="aal` + strconv.Itoa(req.MinAAL) + `"`
			}
			if req.MaxAge > 0 {
				ch += `, max_age=` + strconv.Itoa(int(req.MaxAge/time.Second))
			}
			w.Header().Set("WWW-Authenticate", ch)
			problem(w, http.StatusUnauthorized, "insufficient_user_authentication", "A stronger or more recent authentication is required.")
		})
	}
}
