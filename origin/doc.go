// Package origin owns the same-origin rule that guards cookie-authenticated
// state changes against cross-site request forgery: from a request's
// Origin and Sec-Fetch-Site headers (RFC 6454 §7, Fetch Metadata), whether
// it comes from the origin it was addressed to or one trusted to send it.
// Tessera's own API (package server) and forward auth (package
// forwardauth) both apply it.
package origin
