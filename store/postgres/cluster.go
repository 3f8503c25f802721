package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tessera-auth/tessera/store/sqlrow"
)

func (s *Store) InitSetting(ctx context.Context, name, value string) (string, error) {
	var stored string
	err := s.tx(ctx, func(tx pgx.Tx) error {
		// A racing insert of the same name waits for the first one's
		// commit, then does nothing; the SELECT, a new statement under
		// READ COMMITTED, reads whichever committed.
		if _, err := tx.Exec(ctx, "INSERT INTO cluster_settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING", name, value); err != nil {
			return err
		}
		return tx.QueryRow(ctx, "SELECT value FROM cluster_settings WHERE name = $1", name).Scan(&stored)
	})
	if err != nil {
		return "", fmt.Errorf("postgres: init setting %s: %w", name, err)
	}
	return stored, nil
}

func (s *Store) Setting(ctx context.Context, name string) (string, error) {
	var v string
	if _, err := found(0, s.pool.QueryRow(ctx, "SELECT value FROM cluster_settings WHERE name = $1", name).Scan(&v)); err != nil {
		return "", fmt.Errorf("postgres: setting %s: %w", name, err)
	}
	return v, nil
}

// AcquireLease is one conditional upsert: a racing insert waits for the
// other's commit, then re-checks the WHERE against the committed row.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration, now time.Time) (bool, error) {
	n, err := s.execOne(ctx, `INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
		WHERE leases.holder = excluded.holder OR leases.expires_at <= $4`,
		name, holder, sqlrow.Micros(now.Add(ttl)), sqlrow.Micros(now))
	if err != nil {
		return false, fmt.Errorf("postgres: acquire lease %s: %w", name, err)
	}
	return n == 1, nil
}

func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	if _, err := s.execOne(ctx, "DELETE FROM leases WHERE name = $1 AND holder = $2", name, holder); err != nil {
		return fmt.Errorf("postgres: release lease %s: %w", name, err)
	}
	return nil
}

// Shared reports that nodes on several hosts may share this store: the
// cluster's issuer must then be settled explicitly (cluster.Settle).
func (s *Store) Shared() bool { return true }
