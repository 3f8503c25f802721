// Package server is Tessera's HTTP layer: routing, request decoding, cookie
// and bearer credentials, CSRF checks, problem responses and metrics for the
// public and admin APIs. Handlers are thin: they decode, call the domain
// packages (authn, session) and encode.
package server
