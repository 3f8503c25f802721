package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/store/sqlrow"
)

func (s *Store) UpdateClient(ctx context.Context, c store.Client) error {
	a := sqlrow.ClientArgs(c)
	// a is in ClientCols order: id, name, secret_hash, grants, scopes,
	// token_format, created_at, introspect, resources, audience,
	// redirect_uris, auth_method, old_secret_hash, old_secret_until,
	// first_party, revocation_feed.
	res, err := s.exec(ctx, `UPDATE clients SET name = ?, secret_hash = ?, grants = ?, scopes = ?, token_format = ?,
		introspect = ?, resources = ?, audience = ?,
		redirect_uris = ?, auth_method = ?, old_secret_hash = ?, old_secret_until = ?,
		first_party = ?, revocation_feed = ? WHERE id = ?`,
		a[1], a[2], a[3], a[4], a[5], a[7], a[8], a[9], a[10], a[11], a[12], a[13], a[14], a[15], c.ID)
	if isUniqueViolation(err) {
		return fmt.Errorf("sqlite: update client: %w", store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("sqlite: update client: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("sqlite: update client: %w", store.ErrNotFound)
	}
	return nil
}

func (s *Store) DeleteClient(ctx context.Context, id string, at time.Time, reason string) (store.ClientDeletion, error) {
	var out store.ClientDeletion
	err := s.tx(ctx, func(tx *sql.Tx) error {
		out = store.ClientDeletion{}
		res, err := tx.ExecContext(ctx, "DELETE FROM clients WHERE id = ?", id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return store.ErrNotFound
		}
		rows, err := tx.QueryContext(ctx, `SELECT DISTINCT s.id, s.user_id FROM refresh_tokens AS r JOIN sessions AS s ON s.id = r.session_id
			WHERE r.client_id = ? AND s.revoked_at IS NULL ORDER BY s.id`, id)
		if err != nil {
			return err
		}
		type owned struct{ id, user string }
		var live []owned
		for rows.Next() {
			var o owned
			if err := rows.Scan(&o.id, &o.user); err != nil {
				rows.Close()
				return err
			}
			live = append(live, o)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, o := range live {
			if err := revokeTx(ctx, tx, o.id, o.user, at, reason); err != nil {
				return err
			}
			out.Sessions = append(out.Sessions, o.id)
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM refresh_tokens WHERE client_id = ?", id); err != nil {
			return err
		}
		rows, err = tx.QueryContext(ctx, "SELECT jti, subject, expires_at FROM access_tokens WHERE client_id = ? AND expires_at > ? ORDER BY jti", id, sqlrow.Micros(at))
		if err != nil {
			return err
		}
		type denial struct {
			jti, subject string
			exp          int64
		}
		var ds []denial
		for rows.Next() {
			var d denial
			if err := rows.Scan(&d.jti, &d.subject, &d.exp); err != nil {
				rows.Close()
				return err
			}
			ds = append(ds, d)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, d := range ds {
			res, err := tx.ExecContext(ctx, "INSERT INTO denied_tokens (jti, expires_at) VALUES (?, ?) ON CONFLICT (jti) DO NOTHING", d.jti, d.exp)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n > 0 {
				if _, err := tx.ExecContext(ctx, "INSERT INTO revocations (session_id, jti, user_id, at, expires_at, reason) VALUES ('', ?, ?, ?, ?, ?)",
					d.jti, d.subject, sqlrow.Micros(at), d.exp, reason); err != nil {
					return err
				}
			}
			out.JTIs = append(out.JTIs, d.jti)
		}
		_, err = tx.ExecContext(ctx, "DELETE FROM access_tokens WHERE client_id = ?", id)
		return err
	})
	if err != nil {
		return store.ClientDeletion{}, fmt.Errorf("sqlite: delete client: %w", err)
	}
	return out, nil
}
