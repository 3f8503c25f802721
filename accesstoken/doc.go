// Package accesstoken owns Tessera's JWT access-token format, the RFC 9068
// profile (typ "at+jwt"): minting with the active signing key, and strict
// verification that both the server and the SDK use.
package accesstoken
