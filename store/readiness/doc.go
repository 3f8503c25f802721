// Package readiness tracks whether a store can still commit writes, from
// the outcome of the writes it runs and, when those say nothing recent, a
// probe write: what /readyz and the start-up check report.
package readiness
