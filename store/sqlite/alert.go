package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/store/sqlrow"
)

// Alerts and their webhook outbox. SQLite has one writer: a claim's
// select and update are one immediate transaction, so two claimers (in
// this process or another on the same file) never lease the same row.

var (
	insertAlertSQL    = sqlrow.SQLite(sqlrow.InsertAlertSQL)
	insertDeliverySQL = sqlrow.SQLite(sqlrow.InsertDeliverySQL)
	insertAttemptSQL  = sqlrow.SQLite(sqlrow.InsertAttemptSQL)
	deliverySQL       = sqlrow.SQLite(sqlrow.DeliverySQL)
	deliveryCountSQL  = sqlrow.SQLite(sqlrow.DeliveryCountSQL)
	recordAttemptSQL  = sqlrow.SQLite(sqlrow.RecordAttemptSQL)
	claimSQL          = `UPDATE webhook_deliveries SET lease_holder = ?1, lease_until = ?2
		WHERE id IN (SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_at <= ?3 AND lease_until <= ?3 ORDER BY next_at, id LIMIT ?4)
		RETURNING ` + sqlrow.DeliveryCols
)

func (s *Store) PutAlert(ctx context.Context, a store.Alert, ds []store.WebhookDelivery) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, insertAlertSQL, sqlrow.AlertArgs(a)...); err != nil {
			return err
		}
		for _, d := range ds {
			if _, err := tx.ExecContext(ctx, insertDeliverySQL, sqlrow.DeliveryArgs(d)...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: put alert: %w", err)
	}
	return nil
}

func (s *Store) ListAlerts(ctx context.Context, aq store.AlertQuery) ([]store.Alert, error) {
	query, args := sqlrow.AlertQuery(aq)
	rows, err := s.r.QueryContext(ctx, sqlrow.SQLite(query), args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list alerts: %w", err)
	}
	defer rows.Close()
	out, err := sqlrow.All(rows, sqlrow.Alert)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list alerts: %w", err)
	}
	return out, nil
}

func (s *Store) ClaimDeliveries(ctx context.Context, holder string, now time.Time, lease time.Duration, n int) ([]store.WebhookDelivery, error) {
	var out []store.WebhookDelivery
	err := s.tx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, claimSQL, holder, sqlrow.Micros(now.Add(lease)), sqlrow.Micros(now), n)
		if err != nil {
			return err
		}
		defer rows.Close()
		out, err = sqlrow.All(rows, sqlrow.Delivery)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: claim deliveries: %w", err)
	}
	sqlrow.SortDue(out)
	return out, nil
}

func (s *Store) RecordAttempt(ctx context.Context, a store.DeliveryAttempt, u store.DeliveryUpdate) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, deliveryCountSQL, a.DeliveryID).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return store.ErrNotFound
		}
		if _, err := tx.ExecContext(ctx, insertAttemptSQL, sqlrow.AttemptArgs(a)...); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, recordAttemptSQL, sqlrow.RecordAttemptArgs(a, u)...)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: record delivery attempt: %w", err)
	}
	return nil
}

func (s *Store) DeliveryAttempts(ctx context.Context, dq store.DeliveryQuery) ([]store.DeliveryAttempt, error) {
	query, args := sqlrow.AttemptQuery(dq)
	rows, err := s.r.QueryContext(ctx, sqlrow.SQLite(query), args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: delivery attempts: %w", err)
	}
	defer rows.Close()
	out, err := sqlrow.All(rows, sqlrow.Attempt)
	if err != nil {
		return nil, fmt.Errorf("sqlite: delivery attempts: %w", err)
	}
	return out, nil
}

func (s *Store) WebhookDelivery(ctx context.Context, id string) (store.WebhookDelivery, error) {
	d, err := sqlrow.Delivery(s.r.QueryRowContext(ctx, deliverySQL, id))
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.WebhookDelivery{}, fmt.Errorf("sqlite: webhook delivery: %w", err)
	}
	return d, nil
}

func (s *Store) CountPendingDeliveries(ctx context.Context) (int, error) {
	var n int
	if err := s.r.QueryRowContext(ctx, sqlrow.PendingCountSQL).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: count pending deliveries: %w", err)
	}
	return n, nil
}

func (s *Store) PruneAlerts(ctx context.Context, cutoff time.Time) (int, error) {
	var n int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		for _, q := range sqlrow.PruneAlertsSQL {
			res, err := tx.ExecContext(ctx, sqlrow.SQLite(q), sqlrow.Micros(cutoff))
			if err != nil {
				return err
			}
			n, _ = res.RowsAffected()
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite: prune alerts: %w", err)
	}
	return int(n), nil
}
