// Package redisstate keeps the state that the nodes of a cluster share in
// Redis: login throttles and known addresses (authn.Shared), replay caches
// (replay.Cache) and revocation fan-out (revocation.Notifier). Redis is an
// accelerator, never the truth: while it cannot be reached, throttles and
// known addresses fall back to each node's own, revocations travel by the
// store's feed, and a replay cache reports an error its caller must treat
// as "seen". The outage is logged once, counted, and ends by itself when
// Redis answers again.
package redisstate
