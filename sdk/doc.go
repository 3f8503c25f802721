// Package sdk is what a service protected by Tessera links in to accept
// Tessera credentials: local JWT access-token verification against a JWKS
// cache that follows key rotation, a revocation-feed follower that makes
// revoked sessions and tokens fail locally within a bounded delay, an RFC
// 7662 introspection client for opaque tokens, net/http middleware that
// turns a bearer token or session cookie into a Principal, and CSRF
// protection for cookie-authenticated apps.
//
// Every component fails closed: without keys, with a stale revocation feed
// or with an unreachable server a credential is refused (503 from the
// middleware), never waved through. Raw tokens never appear in errors or
// logs, and caches are keyed by SHA-256 of the token.
package sdk
