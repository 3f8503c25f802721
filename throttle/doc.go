// Package throttle limits how often a key (an IP, an account) may fail,
// with token buckets that refill over time, so throttling slows guessing
// without locking anyone out for good.
package throttle
