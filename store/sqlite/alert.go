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

func qmark(int) string { return "?" }

func (s *Store) PutAlert(ctx context.Context, a store.Alert, ds []store.WebhookDelivery) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "INSERT INTO alerts ("+sqlrow.AlertInsertCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", sqlrow.AlertArgs(a)...); err != nil {
			return err
		}
		for _, d := range ds {
			if _, err := tx.ExecContext(ctx, "INSERT INTO webhook_deliveries ("+sqlrow.DeliveryCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", sqlrow.DeliveryArgs(d)...); err != nil {
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
	query, args := sqlrow.AlertQuery(aq, qmark)
	rows, err := s.r.QueryContext(ctx, query, args...)
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
		out = nil
		rows, err := tx.QueryContext(ctx, `UPDATE webhook_deliveries SET lease_holder = ?, lease_until = ?
			WHERE id IN (SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_at <= ? AND lease_until <= ? ORDER BY next_at, id LIMIT ?)
			RETURNING `+sqlrow.DeliveryCols,
			holder, sqlrow.Micros(now.Add(lease)), sqlrow.Micros(now), sqlrow.Micros(now), n)
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
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM webhook_deliveries WHERE id = ?", a.DeliveryID).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return store.ErrNotFound
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO webhook_attempts ("+sqlrow.AttemptInsertCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", sqlrow.AttemptArgs(a)...); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET status = ?, next_at = ?, last_error = ?, attempts = attempts + 1,
			lease_holder = '', lease_until = 0, updated_at = ? WHERE id = ? AND status = 'pending'`,
			u.Status, sqlrow.Micros(u.NextAt), u.LastError, sqlrow.Micros(a.At), a.DeliveryID)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: record delivery attempt: %w", err)
	}
	return nil
}

func (s *Store) DeliveryAttempts(ctx context.Context, dq store.DeliveryQuery) ([]store.DeliveryAttempt, error) {
	query, args := sqlrow.AttemptQuery(dq, qmark)
	rows, err := s.r.QueryContext(ctx, query, args...)
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
	d, err := sqlrow.Delivery(s.r.QueryRowContext(ctx, "SELECT "+sqlrow.DeliveryCols+" FROM webhook_deliveries WHERE id = ?", id))
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
	if err := s.r.QueryRowContext(ctx, "SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'").Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: count pending deliveries: %w", err)
	}
	return n, nil
}

func (s *Store) PruneAlerts(ctx context.Context, cutoff time.Time) (int, error) {
	var n int64
	c := sqlrow.Micros(cutoff)
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM webhook_deliveries WHERE status <> 'pending' AND updated_at < ?", c); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM webhook_attempts WHERE at < ?", c); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM alerts WHERE at < ?
			AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.alert_id = alerts.id AND d.status = 'pending')`, c)
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite: prune alerts: %w", err)
	}
	return int(n), nil
}
