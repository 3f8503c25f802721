// Package sqlitetest opens throwaway SQLite stores for the tests of the
// packages built on a store, so each test gets a fresh, migrated database
// of its own that is closed and deleted when the test ends, and stores the
// one user most of those tests need.
package sqlitetest
