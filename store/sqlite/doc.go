// Package sqlite is the embedded storage backend: one SQLite file in WAL mode
// through a pure-Go driver, so `tessera serve` needs nothing installed.
package sqlite
