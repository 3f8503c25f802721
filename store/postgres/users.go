package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/store/sqlrow"
)

func (s *Store) ListUsersPage(ctx context.Context, q store.UserQuery) ([]store.User, error) {
	where, args := []string{"id > $1"}, []any{q.After}
	if q.Prefix != "" {
		// starts_with, not LIKE: "_" is a username character and a LIKE wildcard.
		args = append(args, q.Prefix)
		where = append(where, fmt.Sprintf("starts_with(username, $%d)", len(args)))
	}
	where = append(where, sqlrow.UserStateConds(q)...)
	args = append(args, q.Limit)
	rows, err := s.pool.Query(ctx, "SELECT "+sqlrow.UserCols+" FROM users WHERE "+strings.Join(where, " AND ")+
		fmt.Sprintf(" ORDER BY id COLLATE \"C\" LIMIT $%d", len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: list users: %w", err)
	}
	defer rows.Close()
	out, err := sqlrow.All(rows, sqlrow.User)
	if err != nil {
		return nil, fmt.Errorf("postgres: list users: %w", err)
	}
	return out, nil
}

func (s *Store) UpdateUser(ctx context.Context, userID string, up store.UserUpdate) (store.User, []string, error) {
	var (
		out store.User
		ids []string
	)
	at := sqlrow.Micros(up.At)
	err := s.tx(ctx, func(tx pgx.Tx) error {
		ids = nil
		// The row lock orders this change with logins (CreateSession locks
		// the same row), so no session starts for a user being disabled.
		u, err := scanUser(tx.QueryRow(ctx, "SELECT "+sqlrow.UserCols+" FROM users WHERE id = $1 FOR NO KEY UPDATE", userID))
		if err != nil {
			return err
		}
		if !u.DeletedAt.IsZero() {
			return store.ErrStale
		}
		if up.RevokeReason != "" {
			rows, err := tx.Query(ctx, sqlrow.UserSessionsSQL, userID, at)
			if err != nil {
				return err
			}
			live, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				return err
			}
			if ids, err = s.revokeTx(ctx, tx, live, up.At, up.RevokeReason); err != nil {
				return err
			}
		}
		for _, st := range sqlrow.UserUpdate(userID, up) {
			if _, err := tx.Exec(ctx, st.SQL, st.Args...); err != nil {
				return err
			}
		}
		out, err = scanUser(tx.QueryRow(ctx, sqlrow.UserByIDSQL, userID))
		return err
	})
	if isUniqueViolation(err) {
		err = errors.Join(store.ErrConflict, err) // a tombstone already in use
	}
	if err != nil {
		return store.User{}, nil, fmt.Errorf("postgres: update user: %w", err)
	}
	return out, ids, nil
}
