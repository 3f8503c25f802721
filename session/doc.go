// Package session is the lifecycle engine: it creates sessions, validates
// their tokens against idle and absolute timeouts and revocation, keeps hot
// sessions in memory, and revokes them durably. Following the revocation
// feed (and the access-token denylist) belongs to package revocation, whose
// Follower evicts from this package's cache. It knows nothing of HTTP.
package session
