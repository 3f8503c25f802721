package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/store/sqlrow"
)

func (s *Store) UpdateClient(ctx context.Context, c store.Client) error {
	a := sqlrow.ClientArgs(c)
	// a is in ClientCols order (see the SQLite backend).
	n, err := s.execOne(ctx, `UPDATE clients SET name = $1, secret_hash = $2, grants = $3, scopes = $4, token_format = $5,
		introspect = $6, resources = $7, audience = $8,
		redirect_uris = $9, auth_method = $10, old_secret_hash = $11, old_secret_until = $12,
		first_party = $13, revocation_feed = $14 WHERE id = $15`,
		a[1], a[2], a[3], a[4], a[5], a[7], a[8], a[9], a[10], a[11], a[12], a[13], a[14], a[15], c.ID)
	if isUniqueViolation(err) {
		return fmt.Errorf("postgres: update client: %w", store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("postgres: update client: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("postgres: update client: %w", store.ErrNotFound)
	}
	return nil
}

func (s *Store) DeleteClient(ctx context.Context, id string, at time.Time, reason string) (store.ClientDeletion, error) {
	var out store.ClientDeletion
	err := s.tx(ctx, func(tx pgx.Tx) error {
		out = store.ClientDeletion{}
		tag, err := tx.Exec(ctx, "DELETE FROM clients WHERE id = $1", id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return store.ErrNotFound
		}
		rows, err := tx.Query(ctx, `SELECT DISTINCT s.id FROM refresh_tokens AS r JOIN sessions AS s ON s.id = r.session_id
			WHERE r.client_id = $1 AND s.revoked_at IS NULL`, id)
		if err != nil {
			return err
		}
		live, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		if out.Sessions, err = s.revokeTx(ctx, tx, live, at, reason); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "DELETE FROM refresh_tokens WHERE client_id = $1", id); err != nil {
			return err
		}
		// Denied in jti order (one lock order for concurrent deniers).
		rows, err = tx.Query(ctx, `INSERT INTO denied_tokens (jti, expires_at)
			SELECT jti, expires_at FROM access_tokens WHERE client_id = $1 AND expires_at > $2 ORDER BY jti
			ON CONFLICT (jti) DO NOTHING RETURNING jti`, id, sqlrow.Micros(at))
		if err != nil {
			return err
		}
		denied, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		if len(denied) > 0 {
			rows, err = tx.Query(ctx, "SELECT jti, subject, expires_at FROM access_tokens WHERE jti = ANY($1) ORDER BY jti", denied)
			if err != nil {
				return err
			}
			var entries []feedEntry
			for rows.Next() {
				var jti, sub string
				var exp int64
				if err := rows.Scan(&jti, &sub, &exp); err != nil {
					rows.Close()
					return err
				}
				entries = append(entries, feedEntry{jti: jti, userID: sub, at: at, expires: sqlrow.FromMicros(exp), reason: reason})
				out.JTIs = append(out.JTIs, jti)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			if err := s.appendFeed(ctx, tx, entries); err != nil {
				return err
			}
		}
		_, err = tx.Exec(ctx, "DELETE FROM access_tokens WHERE client_id = $1", id)
		return err
	})
	if err != nil {
		return store.ClientDeletion{}, fmt.Errorf("postgres: delete client: %w", err)
	}
	return out, nil
}
