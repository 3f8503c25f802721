// Package oauth owns OAuth 2.0 token issuance: registered clients and their
// authentication, access tokens (RFC 9068 JWTs) and rotating refresh tokens
// for sessions, and the refresh_token and client_credentials grants
// (RFC 6749). It owns the refresh-rotation policy, DecideRefresh, which
// every storage backend runs inside its one atomic primitive. It knows
// nothing of HTTP; errors carry RFC 6749 §5.2 codes.
package oauth
