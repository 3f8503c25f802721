package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/tessera-auth/tessera/store/sqlrow"
)

func (s *Store) InitSetting(ctx context.Context, name, value string) (string, error) {
	var stored string
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "INSERT INTO cluster_settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING", name, value); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, "SELECT value FROM cluster_settings WHERE name = ?", name).Scan(&stored)
	})
	if err != nil {
		return "", fmt.Errorf("sqlite: init setting %s: %w", name, err)
	}
	return stored, nil
}

func (s *Store) Setting(ctx context.Context, name string) (string, error) {
	var v string
	if _, err := found(0, s.r.QueryRowContext(ctx, "SELECT value FROM cluster_settings WHERE name = ?", name).Scan(&v)); err != nil {
		return "", fmt.Errorf("sqlite: setting %s: %w", name, err)
	}
	return v, nil
}

// AcquireLease is one conditional upsert under the single writer.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration, now time.Time) (bool, error) {
	res, err := s.exec(ctx, `INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
		WHERE leases.holder = excluded.holder OR leases.expires_at <= ?`,
		name, holder, sqlrow.Micros(now.Add(ttl)), sqlrow.Micros(now))
	if err != nil {
		return false, fmt.Errorf("sqlite: acquire lease %s: %w", name, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("sqlite: acquire lease %s: %w", name, err)
	}
	return n == 1, nil
}

func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	if _, err := s.exec(ctx, "DELETE FROM leases WHERE name = ? AND holder = ?", name, holder); err != nil {
		return fmt.Errorf("sqlite: release lease %s: %w", name, err)
	}
	return nil
}
