// Package revocation owns the revocation feed: what its entries mean to a
// verifier (Until, DenyMargin), how a follower reads it (cursors, the
// refusal of a cursor from another database, the long poll), the follower
// every node runs (cursor, staleness, catch-up, cache eviction), the
// access-token denylist, and the Notifier seam that wakes followers and
// long polls when a revocation commits. It knows nothing of HTTP.
package revocation
