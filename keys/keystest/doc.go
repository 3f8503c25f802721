// Package keystest makes loaded signing keysets for tests, under a fresh
// master key, so tests that sign tokens need not repeat the setup.
package keystest
