package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/store/sqlrow"
	"github.com/tessera-auth/tessera/token"
)

// Refresh rotation is the hottest durable write, so it is pipelined: two
// round trips where a pgx.Tx takes five (BEGIN, two locking reads, the
// writes, COMMIT).
//
//  1. BEGIN, the session's row lock, the token's row lock and read.
//  2. The plan's writes and COMMIT.
//
// Pipelining changes no semantics. PostgreSQL runs the statements of one
// pipeline in order, each READ COMMITTED statement with its own snapshot,
// so the token is still read after the session's lock is granted, and an
// error in one statement skips the rest up to the pipeline's end (the
// COMMIT included), leaving the transaction aborted: it is rolled back.

const (
	// The family's session first: its row lock is the one every rotation
	// of the family takes before the token's. (The sub-select that finds
	// it locks nothing; a locking clause applies to its own FROM only.)
	lockSessionSQL = "SELECT " + sqlrow.SessionCols +
		" FROM sessions WHERE id = (SELECT session_id FROM refresh_tokens WHERE token_hash = $1) FOR NO KEY UPDATE"
	// Read the token under the session's lock: a rotation that committed
	// while this one waited has changed it (or reuse deleted it).
	lockTokenSQL = sqlrow.RefreshStateFrom + " WHERE r.token_hash = $1 FOR UPDATE OF r"
)

// RotateRefreshToken runs one presentation in one transaction: it locks
// the family's session row, then the presented token's row (FOR UPDATE),
// loads the state under those locks, calls decide and applies its plan.
// Every rotation of a family takes the session's lock first, so
// presentations of one family run one after another, each seeing the
// effects of those before it, on every node; families do not wait for
// each other. A transaction PostgreSQL aborts (deadlock, serialization
// failure) runs again, decide included: decide is pure.
func (s *Store) RotateRefreshToken(ctx context.Context, presented token.Hash, decide func(store.RefreshState) store.RefreshPlan) (res store.RefreshResult, err error) {
	defer func() { s.health.Record(err) }()
	for attempt := 1; ; attempt++ {
		res, err = s.rotateOnce(ctx, presented, decide)
		if err == nil || attempt == maxAttempts || !retryable(err) || ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		return store.RefreshResult{}, fmt.Errorf("postgres: rotate refresh token: %w", err)
	}
	return res, nil
}

func (s *Store) rotateOnce(ctx context.Context, presented token.Hash, decide func(store.RefreshState) store.RefreshPlan) (store.RefreshResult, error) {
	c, err := s.pool.Acquire(ctx)
	if err != nil {
		return store.RefreshResult{}, err
	}
	// Release destroys a connection left inside a transaction (or broken)
	// instead of pooling it; rollback below is the ordinary way out.
	defer c.Release()

	var b pgx.Batch
	b.Queue("BEGIN")
	b.Queue(lockSessionSQL, presented[:])
	b.Queue(lockTokenSQL, presented[:])
	br := c.SendBatch(ctx, &b)
	_, err = br.Exec()
	var sess store.Session
	var st store.RefreshState
	if err == nil {
		sess, err = scanSession(br.QueryRow())
	}
	if err == nil {
		st, err = found(sqlrow.RefreshState(br.QueryRow()))
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		rollback(ctx, c)
		return store.RefreshResult{}, err // ErrNotFound: no such token, or its family went with its session
	}
	st.Session = sess
	sessionID := sess.ID

	plan := decide(st)
	var w pgx.Batch
	if plan.Supersede != (token.Hash{}) {
		w.Queue("UPDATE refresh_tokens SET used_at = $1, superseded = true WHERE token_hash = $2", sqlrow.Micros(plan.SupersededAt), plan.Supersede[:])
	}
	if next := plan.Successor.Hash; next != (token.Hash{}) {
		t := plan.Successor
		w.Queue("UPDATE refresh_tokens SET used_at = $1, child = $2, rotated_by = $3, grace_used = $4 WHERE token_hash = $5",
			sqlrow.Micros(plan.UsedAt), next[:], plan.RotatedBy, plan.GraceUsed, presented[:])
		w.Queue("INSERT INTO refresh_tokens ("+sqlrow.RefreshCols+") VALUES ($1, $2, $3, $4, $5, $6, NULL)",
			t.Hash[:], t.SessionID, t.ClientID, t.Scope, sqlrow.Micros(t.CreatedAt), sqlrow.Micros(t.ExpiresAt))
	}
	if !plan.TouchAt.IsZero() {
		w.Queue("UPDATE sessions SET last_seen_at = $1 WHERE id = $2 AND last_seen_at < $1", sqlrow.Micros(plan.TouchAt), sessionID)
	}
	if plan.RevokeReason != "" {
		w.Queue("DELETE FROM refresh_tokens WHERE session_id = $1", sessionID)
		// The rare path (reuse, a dead family): the writes, then the
		// revocation and its feed entry, then COMMIT, one after another.
		err = c.SendBatch(ctx, &w).Close()
		if err == nil {
			_, err = s.revokeTx(ctx, c, []string{sessionID}, plan.RevokedAt, plan.RevokeReason)
		}
		if err != nil {
			rollback(ctx, c)
			return store.RefreshResult{}, err
		}
		w = pgx.Batch{}
	}
	if err := commitBatch(ctx, c, &w); err != nil {
		return store.RefreshResult{}, err
	}
	return store.RefreshResult{Outcome: plan.Outcome, Reason: plan.Reason, Presented: st.Token, Successor: plan.Successor, Session: st.Session}, nil
}

// commitBatch sends w's statements and COMMIT in one round trip, and says
// whether the transaction committed as txOnce does: once COMMIT is sent it
// waits for the answer even if ctx ends; an error that leaves the outcome
// unknown says so; a refused statement or COMMIT means rolled back.
func commitBatch(ctx context.Context, c *pgxpool.Conn, w *pgx.Batch) error {
	n := w.Len()
	w.Queue("COMMIT")
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitWait)
	defer cancel()
	br := c.SendBatch(cctx, w)
	var err error
	for range n {
		if _, err = br.Exec(); err != nil {
			break
		}
	}
	if err == nil {
		var tag interface{ String() string }
		tag, err = br.Exec()
		if err == nil && tag.String() != "COMMIT" {
			err = pgx.ErrTxCommitRollback // PostgreSQL answers ROLLBACK to COMMIT in an aborted transaction
		}
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		return nil
	}
	if commitUnknown(err) {
		return fmt.Errorf("postgres: commit outcome unknown: %w", err)
	}
	rollback(ctx, c) // a statement or COMMIT refused: the transaction is aborted
	return err
}

// rollback ends the open transaction on c; if it cannot, c is left in it
// and Release destroys c.
func rollback(ctx context.Context, c *pgxpool.Conn) {
	if c.Conn().IsClosed() {
		return
	}
	c.Exec(context.WithoutCancel(ctx), "ROLLBACK")
}
