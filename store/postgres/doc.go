// Package postgres is the PostgreSQL store backend (pgx, pgxpool), under
// the store URL schemes postgres:// and postgresql://. Its schema mirrors
// the SQLite backend's, applied by embedded migrations under an advisory
// lock; its primitives are row locks and transactions, with no policy.
// Every transaction that appends to the revocation feed NOTIFYs the
// schema's channel, and a Listener on a dedicated connection hears every
// process's revocations (ListenFeed).
// Text is ordered bytewise (COLLATE "C"), as SQLite orders it, whatever the
// database's default collation.
package postgres
