// Package forwardauth decides whether a request a reverse proxy asks about
// (nginx auth_request, Caddy forward_auth, Traefik forwardAuth) may reach
// its upstream, and as whom: the credential, the CSRF and Origin rule for
// cookie-authenticated state changes, service tokens, and per host and
// path rules. The HTTP layer only reads the request and renders the
// Decision.
package forwardauth
