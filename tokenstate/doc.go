// Package tokenstate owns what a presented token is worth to a client that
// asks: RFC 7662 introspection of every kind Tessera issues (JWT and opaque
// access tokens, session tokens, refresh tokens) and RFC 7009 revocation
// with its ownership rule. It returns values and sentinel errors; the HTTP
// layer only renders them.
package tokenstate
