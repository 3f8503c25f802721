package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/store/sqlrow"
	"github.com/tessera-auth/tessera/token"
)

func (s *Store) CreateClient(ctx context.Context, c store.Client) error {
	_, err := s.execOne(ctx, "INSERT INTO clients ("+sqlrow.ClientCols+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)", sqlrow.ClientArgs(c)...)
	if isUniqueViolation(err) {
		return fmt.Errorf("postgres: create client: %w", store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("postgres: create client: %w", err)
	}
	return nil
}

func (s *Store) ClientByID(ctx context.Context, id string) (store.Client, error) {
	c, err := scanClient(s.pool.QueryRow(ctx, "SELECT "+sqlrow.ClientCols+" FROM clients WHERE id = $1", id))
	if err != nil {
		return store.Client{}, fmt.Errorf("postgres: client: %w", err)
	}
	return c, nil
}

func (s *Store) ListClients(ctx context.Context) ([]store.Client, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+sqlrow.ClientCols+" FROM clients ORDER BY name COLLATE \"C\"")
	if err != nil {
		return nil, fmt.Errorf("postgres: list clients: %w", err)
	}
	defer rows.Close()
	out, err := sqlrow.All(rows, sqlrow.Client)
	if err != nil {
		return nil, fmt.Errorf("postgres: list clients: %w", err)
	}
	return out, nil
}

func insertRefresh(ctx context.Context, tx pgx.Tx, t store.RefreshToken) error {
	_, err := tx.Exec(ctx, "INSERT INTO refresh_tokens ("+sqlrow.RefreshCols+") VALUES ($1, $2, $3, $4, $5, $6, NULL)",
		t.Hash[:], t.SessionID, t.ClientID, t.Scope, sqlrow.Micros(t.CreatedAt), sqlrow.Micros(t.ExpiresAt))
	return err
}

func (s *Store) CreateRefreshToken(ctx context.Context, t store.RefreshToken) error {
	err := s.tx(ctx, func(tx pgx.Tx) error { return insertRefresh(ctx, tx, t) })
	if isUniqueViolation(err) {
		return fmt.Errorf("postgres: create refresh token: %w", store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("postgres: create refresh token: %w", err)
	}
	return nil
}

func (s *Store) RefreshTokenByHash(ctx context.Context, h token.Hash) (store.RefreshToken, error) {
	t, err := found(sqlrow.RefreshToken(s.pool.QueryRow(ctx, "SELECT "+sqlrow.RefreshCols+" FROM refresh_tokens WHERE token_hash = $1", h[:])))
	if err != nil {
		return store.RefreshToken{}, fmt.Errorf("postgres: refresh token: %w", err)
	}
	return t, nil
}

// RotateRefreshToken runs one presentation in one transaction: it locks
// the family's session row, then the presented token's row (FOR UPDATE),
// loads the state under those locks, calls decide and applies its plan.
// Every rotation of a family takes the session's lock first, so
// presentations of one family run one after another, each seeing the
// effects of those before it, on every node; families do not wait for
// each other. A transaction PostgreSQL aborts (deadlock, serialization
// failure) runs again, decide included: decide is pure.
func (s *Store) RotateRefreshToken(ctx context.Context, presented token.Hash, decide func(store.RefreshState) store.RefreshPlan) (store.RefreshResult, error) {
	var res store.RefreshResult
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var err error
		res, err = s.rotateInTx(ctx, tx, presented, decide)
		return err
	})
	if err != nil {
		return store.RefreshResult{}, fmt.Errorf("postgres: rotate refresh token: %w", err)
	}
	return res, nil
}

func (s *Store) rotateInTx(ctx context.Context, tx pgx.Tx, presented token.Hash, decide func(store.RefreshState) store.RefreshPlan) (store.RefreshResult, error) {
	// The family's session first: its row lock is the one every rotation
	// of the family takes before the token's. (The sub-select that finds
	// it locks nothing; a locking clause applies to its own FROM only.)
	sess, err := scanSession(tx.QueryRow(ctx, "SELECT "+sqlrow.SessionCols+
		" FROM sessions WHERE id = (SELECT session_id FROM refresh_tokens WHERE token_hash = $1) FOR NO KEY UPDATE", presented[:]))
	if err != nil {
		return store.RefreshResult{}, err // ErrNotFound: no such token, or its family went with its session
	}
	sessionID := sess.ID
	// Read the token under the session's lock: a rotation that committed
	// while this one waited has changed it (or reuse deleted it).
	st, err := found(sqlrow.RefreshState(tx.QueryRow(ctx, sqlrow.RefreshStateFrom+" WHERE r.token_hash = $1 FOR UPDATE OF r", presented[:])))
	if err != nil {
		return store.RefreshResult{}, err
	}
	st.Session = sess

	plan := decide(st)
	// The plan's row writes go in one round trip, in the plan's order.
	var b pgx.Batch
	if plan.Supersede != (token.Hash{}) {
		b.Queue("UPDATE refresh_tokens SET used_at = $1, superseded = true WHERE token_hash = $2", sqlrow.Micros(plan.SupersededAt), plan.Supersede[:])
	}
	if next := plan.Successor.Hash; next != (token.Hash{}) {
		t := plan.Successor
		b.Queue("UPDATE refresh_tokens SET used_at = $1, child = $2, rotated_by = $3, grace_used = $4 WHERE token_hash = $5",
			sqlrow.Micros(plan.UsedAt), next[:], plan.RotatedBy, plan.GraceUsed, presented[:])
		b.Queue("INSERT INTO refresh_tokens ("+sqlrow.RefreshCols+") VALUES ($1, $2, $3, $4, $5, $6, NULL)",
			t.Hash[:], t.SessionID, t.ClientID, t.Scope, sqlrow.Micros(t.CreatedAt), sqlrow.Micros(t.ExpiresAt))
	}
	if !plan.TouchAt.IsZero() {
		b.Queue("UPDATE sessions SET last_seen_at = $1 WHERE id = $2 AND last_seen_at < $1", sqlrow.Micros(plan.TouchAt), sessionID)
	}
	if plan.RevokeReason != "" {
		b.Queue("DELETE FROM refresh_tokens WHERE session_id = $1", sessionID)
	}
	if b.Len() > 0 {
		if err := tx.SendBatch(ctx, &b).Close(); err != nil {
			return store.RefreshResult{}, err
		}
	}
	if plan.RevokeReason != "" {
		if _, err := s.revokeTx(ctx, tx, []string{sessionID}, plan.RevokedAt, plan.RevokeReason); err != nil {
			return store.RefreshResult{}, err
		}
	}
	return store.RefreshResult{Outcome: plan.Outcome, Reason: plan.Reason, Presented: st.Token, Successor: plan.Successor, Session: st.Session}, nil
}

func (s *Store) CreateAccessToken(ctx context.Context, t store.AccessToken) error {
	_, err := s.execOne(ctx, "INSERT INTO access_tokens ("+sqlrow.AccessCols+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
		t.Hash[:], t.ID, t.ClientID, t.Subject, t.Scope, t.SessionID, sqlrow.Micros(t.CreatedAt), sqlrow.Micros(t.ExpiresAt))
	if isUniqueViolation(err) {
		return fmt.Errorf("postgres: create access token: %w", store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("postgres: create access token: %w", err)
	}
	return nil
}

func (s *Store) AccessTokenByHash(ctx context.Context, h token.Hash) (store.AccessToken, error) {
	t, err := found(sqlrow.AccessToken(s.pool.QueryRow(ctx, "SELECT "+sqlrow.AccessCols+" FROM access_tokens WHERE token_hash = $1", h[:])))
	if err != nil {
		return store.AccessToken{}, fmt.Errorf("postgres: access token: %w", err)
	}
	return t, nil
}

func scanClient(row sqlrow.Scanner) (store.Client, error) { return found(sqlrow.Client(row)) }
