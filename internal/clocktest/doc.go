// Package clocktest provides a settable clock for expiry tests: a test
// injects its Now where the code under test takes a clock, then moves time
// with Add or Set instead of sleeping. It is safe for concurrent use, so a
// background loop may read it while the test advances it.
package clocktest
