package store

import (
	"context"
	"time"
)

// AuditRecord is one entry of the append-only audit log. Seq numbers the
// one chain of the whole store densely from 1; MAC chains the record to
// the one before it (the audit package computes it, keyed: see
// docs/audit.md). No field ever holds a raw token, password, secret or code.
type AuditRecord struct {
	Seq       int64
	At        time.Time
	Event     string // an event.Kind name, or an audit-only event ("audit_dropped")
	Actor     string // who acted: "user", "client", "admin_api", "cli", "system"
	UserID    string // the subject user
	SessionID string
	ClientID  string
	IP        string
	UserAgent string
	Outcome   string // "success" or "failure"
	Details   []byte // a JSON object
	Node      string // the node that wrote it
	MAC       []byte
}

// AuditHead is the end of the chain: the last record's Seq and MAC (0 and
// nil before the first), and a MAC over both (HeadMAC) so an edited head is
// seen.
type AuditHead struct {
	Seq     int64
	MAC     []byte
	HeadMAC []byte
}

// AuditCheckpoint is a keyed statement that the chain's record Seq had MAC
// at At: periodic ones let truncation of the tail be seen; a "cut" one
// stands where retention pruned the records up to Seq.
type AuditCheckpoint struct {
	Seq  int64
	MAC  []byte // the record's chain MAC
	At   time.Time
	Kind string // "periodic" or "cut"
	Node string
	Sig  []byte // keyed MAC over the fields above
}

// AuditQuery selects records. Zero fields do not filter.
type AuditQuery struct {
	UserID, SessionID, Event string
	Since, Until             time.Time // At in [Since, Until)
	// After and Before bound Seq (exclusive): the paging cursor.
	After, Before int64
	Desc          bool // newest first
	Limit         int  // required, > 0
}

// AuditLog stores the audit chain. Primitives only: the audit package
// computes the MACs and decides what is recorded.
type AuditLog interface {
	// AppendAudit appends records to the chain atomically: under a lock
	// that excludes every other append to the store (SQLite's single
	// writer; PostgreSQL: the head row locked FOR UPDATE), it loads the
	// head, calls seal with it and the records, and stores the records
	// seal returns (Seq and MAC set) and the new head seal returns, in one
	// transaction. seal must be pure: a backend may call it again if it
	// retries the transaction.
	AppendAudit(ctx context.Context, recs []AuditRecord, seal func(head AuditHead, recs []AuditRecord) ([]AuditRecord, AuditHead, error)) error
	// AuditHead returns the head; the zero AuditHead for an empty log.
	AuditHead(ctx context.Context) (AuditHead, error)
	// AuditRecords returns the records q selects, ordered by Seq.
	AuditRecords(ctx context.Context, q AuditQuery) ([]AuditRecord, error)
	// PutAuditCheckpoint stores c (a second one at the same Seq and Kind
	// replaces nothing and succeeds).
	PutAuditCheckpoint(ctx context.Context, c AuditCheckpoint) error
	// AuditCheckpoints returns every checkpoint, by Seq.
	AuditCheckpoints(ctx context.Context) ([]AuditCheckpoint, error)
	// PruneAudit stores cut (Kind "cut") and deletes the records with Seq
	// ≤ cut.Seq and the checkpoints below cut.Seq, in one transaction, and
	// returns how many records it deleted.
	PruneAudit(ctx context.Context, cut AuditCheckpoint) (int, error)
}
