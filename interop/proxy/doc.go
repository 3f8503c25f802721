// Package proxy holds tests in which real reverse proxies (nginx
// auth_request, Caddy forward_auth), run from their Debian packages as
// child processes, guard a test upstream with Tessera's forward-auth
// endpoint, GET /v1/auth/verify (docs/proxies.md); one test drives a real
// headless Chromium at the app behind nginx.
package proxy
