// Package redisstate keeps the state that the nodes of a cluster share in
// Redis: login throttles and known addresses (authn.Shared), replay caches
// (replay.Cache), detection rules' state (detect.State) and revocation
// fan-out (revocation.Notifier). Redis is an accelerator, never the truth:
// while it cannot be reached, throttles, known addresses and detection
// state fall back to each node's own, revocations travel by the
// store's feed, and a replay cache reports an error its caller must treat
// as "seen". The outage is logged once, counted, and ends by itself when
// Redis answers again.
package redisstate
