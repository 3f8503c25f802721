// Package probe bounds token probing: presenting guessed, stolen-and-dead
// or forged tokens to see which ones work. Failed bearer validations count
// per client address, failed introspections per calling client and per
// address, in token buckets only failures drain (throttle); an empty bucket
// refuses further attempts until it refills (the caller answers 429 with
// Retry-After), and emptying one is an event for detection.
package probe
