// Package server is Tessera's HTTP layer: routing, request decoding, cookie
// and bearer credentials, CSRF checks, problem responses and metrics for the
// public and admin APIs. Handlers are thin: they decode, call the domain
// services (authflow, tokenstate, session, oauth) and render their results.
// Each area mounts its own routes (mountSession, mountOAuth, mountAdmin, …),
// and every handler returns its failure to one funnel (fail) that renders
// the public error and logs its cause.
package server
