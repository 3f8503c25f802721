// Package sqlite is the embedded storage backend: one SQLite file in WAL mode
// through a pure-Go driver, so `tessera serve` needs nothing installed.
// Importing it registers the "sqlite:PATH" scheme with store.Open; its
// Migrator applies the embedded migrations under SQLite's write lock.
package sqlite
