package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/store/sqlrow"
)

// Alerts and their webhook outbox, shared by every node. A claim selects
// due rows FOR UPDATE SKIP LOCKED and leases them in the same statement:
// nodes claiming at once skip each other's rows instead of waiting for
// them, and a row leased by one is not due for another until the lease
// ends.

func (s *Store) PutAlert(ctx context.Context, a store.Alert, ds []store.WebhookDelivery) error {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, sqlrow.InsertAlertSQL, sqlrow.AlertArgs(a)...); err != nil {
			return err
		}
		for _, d := range ds {
			if _, err := tx.Exec(ctx, sqlrow.InsertDeliverySQL, sqlrow.DeliveryArgs(d)...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("postgres: put alert: %w", err)
	}
	return nil
}

func (s *Store) ListAlerts(ctx context.Context, aq store.AlertQuery) ([]store.Alert, error) {
	query, args := sqlrow.AlertQuery(aq)
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: list alerts: %w", err)
	}
	defer rows.Close()
	out, err := sqlrow.All(rows, sqlrow.Alert)
	if err != nil {
		return nil, fmt.Errorf("postgres: list alerts: %w", err)
	}
	return out, nil
}

func (s *Store) ClaimDeliveries(ctx context.Context, holder string, now time.Time, lease time.Duration, n int) ([]store.WebhookDelivery, error) {
	var out []store.WebhookDelivery
	err := s.tx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `WITH due AS (
				SELECT id FROM webhook_deliveries
				WHERE status = 'pending' AND next_at <= $3 AND lease_until <= $3
				ORDER BY next_at, id LIMIT $4
				FOR UPDATE SKIP LOCKED)
			UPDATE webhook_deliveries d SET lease_holder = $1, lease_until = $2
			FROM due WHERE d.id = due.id
			RETURNING `+prefixed("d.", sqlrow.DeliveryCols),
			holder, sqlrow.Micros(now.Add(lease)), sqlrow.Micros(now), n)
		if err != nil {
			return err
		}
		defer rows.Close()
		out, err = sqlrow.All(rows, sqlrow.Delivery)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: claim deliveries: %w", err)
	}
	sqlrow.SortDue(out)
	return out, nil
}

func (s *Store) RecordAttempt(ctx context.Context, a store.DeliveryAttempt, u store.DeliveryUpdate) error {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var n int
		if err := tx.QueryRow(ctx, sqlrow.DeliveryCountSQL, a.DeliveryID).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return store.ErrNotFound
		}
		if _, err := tx.Exec(ctx, sqlrow.InsertAttemptSQL, sqlrow.AttemptArgs(a)...); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, sqlrow.RecordAttemptSQL, sqlrow.RecordAttemptArgs(a, u)...)
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: record delivery attempt: %w", err)
	}
	return nil
}

func (s *Store) DeliveryAttempts(ctx context.Context, dq store.DeliveryQuery) ([]store.DeliveryAttempt, error) {
	query, args := sqlrow.AttemptQuery(dq)
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: delivery attempts: %w", err)
	}
	defer rows.Close()
	out, err := sqlrow.All(rows, sqlrow.Attempt)
	if err != nil {
		return nil, fmt.Errorf("postgres: delivery attempts: %w", err)
	}
	return out, nil
}

func (s *Store) WebhookDelivery(ctx context.Context, id string) (store.WebhookDelivery, error) {
	d, err := sqlrow.Delivery(s.pool.QueryRow(ctx, sqlrow.DeliverySQL, id))
	if errors.Is(err, pgx.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.WebhookDelivery{}, fmt.Errorf("postgres: webhook delivery: %w", err)
	}
	return d, nil
}

func (s *Store) CountPendingDeliveries(ctx context.Context) (int, error) {
	var n int
	if err := s.pool.QueryRow(ctx, sqlrow.PendingCountSQL).Scan(&n); err != nil {
		return 0, fmt.Errorf("postgres: count pending deliveries: %w", err)
	}
	return n, nil
}

func (s *Store) PruneAlerts(ctx context.Context, cutoff time.Time) (int, error) {
	var n int64
	err := s.tx(ctx, func(tx pgx.Tx) error {
		for _, q := range sqlrow.PruneAlertsSQL {
			tag, err := tx.Exec(ctx, q, sqlrow.Micros(cutoff))
			if err != nil {
				return err
			}
			n = tag.RowsAffected()
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("postgres: prune alerts: %w", err)
	}
	return int(n), nil
}

// prefixed qualifies each of the comma-separated columns with p.
func prefixed(p, cols string) string {
	return p + strings.ReplaceAll(cols, ", ", ", "+p)
}
