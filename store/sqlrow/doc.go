// Package sqlrow is the record ↔ row mapping shared by the SQL backends:
// column lists and scanners over any interface{ Scan(...any) error }, with
// times stored as microseconds since the Unix epoch.
//
// SQL that both backends run the same is written here once, with
// PostgreSQL's $n placeholders that SQLite rewrites to its ?n (SQLite):
// the live-session conditions and the statements of a user update.
//
// It imports no driver. Transactions, locking and the mapping
// of a driver's "no rows" error to store.ErrNotFound stay in each backend:
// a scanner returns the Scan error unchanged, so errors.Is still sees the
// driver's sentinel.
package sqlrow
