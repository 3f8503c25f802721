package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/store/sqlrow"
	"github.com/tessera-auth/tessera/token"
)

func (s *Store) CreateClient(ctx context.Context, c store.Client) error {
	_, err := s.exec(ctx, "INSERT INTO clients ("+sqlrow.ClientCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", sqlrow.ClientArgs(c)...)
	if isUniqueViolation(err) {
		return fmt.Errorf("sqlite: create client: %w", store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("sqlite: create client: %w", err)
	}
	return nil
}

func (s *Store) ClientByID(ctx context.Context, id string) (store.Client, error) {
	c, err := scanClient(s.r.QueryRowContext(ctx, "SELECT "+sqlrow.ClientCols+" FROM clients WHERE id = ?", id))
	if err != nil {
		return store.Client{}, fmt.Errorf("sqlite: client: %w", err)
	}
	return c, nil
}

func (s *Store) ListClients(ctx context.Context) ([]store.Client, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT "+sqlrow.ClientCols+" FROM clients ORDER BY name")
	if err != nil {
		return nil, fmt.Errorf("sqlite: list clients: %w", err)
	}
	defer rows.Close()
	out, err := sqlrow.All(rows, sqlrow.Client)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list clients: %w", err)
	}
	return out, nil
}

func (s *Store) insertRefresh(ctx context.Context, tx *sql.Tx, t store.RefreshToken) error {
	_, err := tx.StmtContext(ctx, s.wRefreshInsert).ExecContext(ctx,
		t.Hash[:], t.SessionID, t.ClientID, t.Scope, sqlrow.Micros(t.CreatedAt), sqlrow.Micros(t.ExpiresAt))
	return err
}

func (s *Store) CreateRefreshToken(ctx context.Context, t store.RefreshToken) error {
	err := s.tx(ctx, func(tx *sql.Tx) error { return s.insertRefresh(ctx, tx, t) })
	if isUniqueViolation(err) {
		return fmt.Errorf("sqlite: create refresh token: %w", store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("sqlite: create refresh token: %w", err)
	}
	return nil
}

func (s *Store) RefreshTokenByHash(ctx context.Context, h token.Hash) (store.RefreshToken, error) {
	t, err := found(sqlrow.RefreshToken(s.r.QueryRowContext(ctx, "SELECT "+sqlrow.RefreshCols+" FROM refresh_tokens WHERE token_hash = ?", h[:])))
	if err != nil {
		return store.RefreshToken{}, fmt.Errorf("sqlite: refresh token: %w", err)
	}
	return t, nil
}

// rotateInTx is one presentation of a refresh token inside tx: load its
// state, let decide judge it, apply the plan. The policy is decide's alone.
func (s *Store) rotateInTx(ctx context.Context, tx *sql.Tx, presented token.Hash, decide func(store.RefreshState) store.RefreshPlan) (store.RefreshResult, error) {
	st, err := found(sqlrow.RefreshState(tx.StmtContext(ctx, s.wRefreshByHash).QueryRowContext(ctx, presented[:])))
	if err != nil {
		return store.RefreshResult{}, err
	}
	old := &st.Token
	if st.Session, err = scanSession(tx.StmtContext(ctx, s.wSessionByID).QueryRowContext(ctx, old.SessionID)); err != nil {
		return store.RefreshResult{}, err
	}
	plan := decide(st)
	if plan.Supersede != (token.Hash{}) {
		if _, err := tx.ExecContext(ctx, "UPDATE refresh_tokens SET used_at = ?, superseded = 1 WHERE token_hash = ?", sqlrow.Micros(plan.SupersededAt), plan.Supersede[:]); err != nil {
			return store.RefreshResult{}, err
		}
	}
	if next := plan.Successor.Hash; next != (token.Hash{}) {
		if _, err := tx.StmtContext(ctx, s.wRefreshUse).ExecContext(ctx, sqlrow.Micros(plan.UsedAt), next[:], plan.RotatedBy, plan.GraceUsed, presented[:]); err != nil {
			return store.RefreshResult{}, err
		}
		if err := s.insertRefresh(ctx, tx, plan.Successor); err != nil {
			return store.RefreshResult{}, err
		}
	}
	if !plan.TouchAt.IsZero() {
		t := sqlrow.Micros(plan.TouchAt)
		if _, err := tx.StmtContext(ctx, s.wSessionTouch).ExecContext(ctx, t, old.SessionID, t); err != nil {
			return store.RefreshResult{}, err
		}
	}
	if plan.RevokeReason != "" {
		if _, err := tx.ExecContext(ctx, "DELETE FROM refresh_tokens WHERE session_id = ?", old.SessionID); err != nil {
			return store.RefreshResult{}, err
		}
		if err := revokeTx(ctx, tx, old.SessionID, st.Session.UserID, plan.RevokedAt, plan.RevokeReason); err != nil {
			return store.RefreshResult{}, err
		}
	}
	return store.RefreshResult{Outcome: plan.Outcome, Reason: plan.Reason, Presented: st.Token, Successor: plan.Successor, Session: st.Session}, nil
}

// RotateRefreshToken hands the presentation to the rotation batcher, which
// runs concurrent presentations one after another inside one immediate
// transaction (each in its own savepoint: load, decide, apply) and commits
// them together: SQLite's single writer makes every presentation see the
// effects of the ones before it, and one commit and one fsync serve the
// whole batch. decide runs on the batcher's goroutine.
func (s *Store) RotateRefreshToken(ctx context.Context, presented token.Hash, decide func(store.RefreshState) store.RefreshPlan) (store.RefreshResult, error) {
	op := &rotateOp{ctx: ctx, presented: presented, decide: decide, done: make(chan struct{})}
	select {
	case s.rotations <- op:
	case <-ctx.Done():
		return store.RefreshResult{}, fmt.Errorf("sqlite: rotate refresh token: %w", ctx.Err())
	case <-s.closed:
		return store.RefreshResult{}, errors.New("sqlite: rotate refresh token: store closed")
	}
	<-op.done
	if op.err != nil {
		return store.RefreshResult{}, fmt.Errorf("sqlite: rotate refresh token: %w", op.err)
	}
	return op.res, nil
}

type rotateOp struct {
	ctx       context.Context
	presented token.Hash
	decide    func(store.RefreshState) store.RefreshPlan
	res       store.RefreshResult
	err       error
	done      chan struct{}
}

// maxBatch bounds one batch, and so the latency one batch adds.
const maxBatch = 64

// batchRotations serves RotateRefreshToken until the store closes.
func (s *Store) batchRotations() {
	defer close(s.batcherDone)
	for {
		var batch []*rotateOp
		select {
		case op := <-s.rotations:
			batch = append(batch, op)
		case <-s.closed:
			return
		}
	drain:
		for len(batch) < maxBatch {
			select {
			case op := <-s.rotations:
				batch = append(batch, op)
			default:
				break drain
			}
		}
		s.runRotations(batch)
	}
}

// runRotations commits one batch, waits until it is durable, and answers
// its callers. Handing the fsync wait to a goroutine so the next batch could
// commit meanwhile was measured (BenchmarkRotate/concurrent-32) and gained
// nothing here: the next batch's WAL writes queue behind the fsync anyway,
// while presentations arriving during it make the next batch larger.
func (s *Store) runRotations(batch []*rotateOp) {
	err := s.commitRotations(batch)
	if err == nil {
		err = s.durable(context.Background())
	}
	s.health.Record(err)
	for _, op := range batch {
		if err != nil && op.err == nil {
			// The batch did not commit, or is not durable: nothing it did counts.
			op.res, op.err = store.RefreshResult{}, err
		}
		close(op.done)
	}
}

func (s *Store) commitRotations(batch []*rotateOp) error {
	// The batch runs under its own context: a caller that gives up after
	// its presentation was queued must not undo the others'. Its rotation
	// still happens; a retry within the grace window recovers the successor.
	ctx := context.Background()
	if err := s.failure(); err != nil {
		return err
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() // after Commit, a no-op
	for _, op := range batch {
		if err := op.ctx.Err(); err != nil {
			op.err = err
			continue
		}
		// Each presentation in its own savepoint, so a failure undoes
		// exactly its own writes and the rest of the batch commits.
		if _, err := tx.StmtContext(ctx, s.wSavepoint).ExecContext(ctx); err != nil {
			return err
		}
		op.res, op.err = s.rotateInTx(ctx, tx, op.presented, op.decide)
		if op.err != nil {
			op.res = store.RefreshResult{}
			if _, err := tx.StmtContext(ctx, s.wRollbackTo).ExecContext(ctx); err != nil {
				return err
			}
		}
		if _, err := tx.StmtContext(ctx, s.wRelease).ExecContext(ctx); err != nil {
			return err
		}
	}
	// A failure recorded meanwhile rolls the batch back (the deferred
	// Rollback): an unacknowledged rotation retried later would otherwise
	// look like reuse and end the family.
	return s.commit(tx.Commit)
}

func (s *Store) CreateAccessToken(ctx context.Context, t store.AccessToken) error {
	_, err := s.exec(ctx, "INSERT INTO access_tokens ("+sqlrow.AccessCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
		t.Hash[:], t.ID, t.ClientID, t.Subject, t.Scope, t.SessionID, sqlrow.Micros(t.CreatedAt), sqlrow.Micros(t.ExpiresAt))
	if isUniqueViolation(err) {
		return fmt.Errorf("sqlite: create access token: %w", store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("sqlite: create access token: %w", err)
	}
	return nil
}

func (s *Store) AccessTokenByHash(ctx context.Context, h token.Hash) (store.AccessToken, error) {
	t, err := found(sqlrow.AccessToken(s.r.QueryRowContext(ctx, "SELECT "+sqlrow.AccessCols+" FROM access_tokens WHERE token_hash = ?", h[:])))
	if err != nil {
		return store.AccessToken{}, fmt.Errorf("sqlite: access token: %w", err)
	}
	return t, nil
}

func scanClient(row sqlrow.Scanner) (store.Client, error) { return found(sqlrow.Client(row)) }
