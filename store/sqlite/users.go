package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/store/sqlrow"
)

func (s *Store) ListUsersPage(ctx context.Context, q store.UserQuery) ([]store.User, error) {
	where, args := []string{"id > ?"}, []any{q.After}
	if q.Prefix != "" {
		// substr, not LIKE: "_" is a username character and a LIKE wildcard.
		where, args = append(where, "substr(username, 1, ?) = ?"), append(args, utf8.RuneCountInString(q.Prefix), q.Prefix) // substr counts characters
	}
	where = append(where, sqlrow.UserStateConds(q)...)
	args = append(args, q.Limit)
	rows, err := s.r.QueryContext(ctx, "SELECT "+sqlrow.UserCols+" FROM users WHERE "+strings.Join(where, " AND ")+" ORDER BY id LIMIT ?", args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list users: %w", err)
	}
	defer rows.Close()
	out, err := sqlrow.All(rows, sqlrow.User)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list users: %w", err)
	}
	return out, nil
}

var (
	userByIDSQL     = sqlrow.SQLite(sqlrow.UserByIDSQL)
	userSessionsSQL = sqlrow.SQLite(sqlrow.UserSessionsSQL)
)

func (s *Store) UpdateUser(ctx context.Context, userID string, up store.UserUpdate) (store.User, []string, error) {
	var (
		out store.User
		ids []string
	)
	at := sqlrow.Micros(up.At)
	err := s.tx(ctx, func(tx *sql.Tx) error {
		u, err := scanUser(tx.QueryRowContext(ctx, userByIDSQL, userID))
		if err != nil {
			return err
		}
		if !u.DeletedAt.IsZero() {
			return store.ErrStale
		}
		if up.RevokeReason != "" {
			if ids, err = queryIDs(ctx, tx, userSessionsSQL, userID, at); err != nil {
				return err
			}
			for _, id := range ids {
				if err := revokeTx(ctx, tx, id, userID, up.At, up.RevokeReason); err != nil {
					return err
				}
			}
		}
		for _, st := range sqlrow.UserUpdate(userID, up) {
			if _, err := tx.ExecContext(ctx, sqlrow.SQLite(st.SQL), st.Args...); err != nil {
				return err
			}
		}
		out, err = scanUser(tx.QueryRowContext(ctx, userByIDSQL, userID))
		return err
	})
	if isUniqueViolation(err) {
		err = errors.Join(store.ErrConflict, err) // a tombstone already in use
	}
	if err != nil {
		return store.User{}, nil, fmt.Errorf("sqlite: update user: %w", err)
	}
	return out, ids, nil
}
