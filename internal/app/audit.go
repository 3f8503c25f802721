package app

import (
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tessera-auth/tessera/audit"
	"github.com/tessera-auth/tessera/keys"
)

// AuditChain is the audit chain keyed from the master key.
func AuditChain(m keys.MasterKey) (*audit.Chain, error) {
	k, err := m.Derive(audit.KeyPurpose)
	if err != nil {
		return nil, fmt.Errorf("audit key: %w", err)
	}
	return audit.NewChain(k)
}

// wireAudit subscribes the audit writer to every event, unless the
// configuration turns the audit log off, and exports its counters.
func (a *App) wireAudit(m keys.MasterKey) error {
	if a.Config.Audit.Disabled {
		return nil
	}
	chain, err := AuditChain(m)
	if err != nil {
		return err
	}
	a.AuditChain = chain
	a.Audit = audit.NewWriter(a.Store, chain, audit.Config{Node: a.Holder, Queue: a.Config.Audit.Queue, Logger: a.log, Now: a.now})
	a.Events.Subscribe(a.Audit, a.Audit.Kinds()...)
	w := a.Audit
	for name, f := range map[string]func() uint64{
		"tessera_audit_records_written_total": w.Written,
		"tessera_audit_records_dropped_total": w.Dropped,
		"tessera_audit_records_failed_total":  w.Failed,
	} {
		help := map[string]string{
			"tessera_audit_records_written_total": "Audit records appended to the store.",
			"tessera_audit_records_dropped_total": "Audit records dropped because the write queue was full (an audit_dropped record says how many).",
			"tessera_audit_records_failed_total":  "Audit records lost because the store refused the append after retries.",
		}[name]
		a.Metrics.Register(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return float64(f()) }))
	}
	return nil
}

// runAudit writes audit records until ctx ends, then what is queued.
func (a *App) runAudit(ctx context.Context) {
	if a.Audit != nil {
		a.Audit.Run(ctx)
	}
}

// PruneAudit deletes audit records older than the retention, if one is
// configured, leaving a cut checkpoint (audit.Prune).
func (a *App) PruneAudit(ctx context.Context) (int, error) {
	r := a.Config.Audit.Retention.D()
	if r <= 0 || a.AuditChain == nil {
		return 0, nil
	}
	now := a.now()
	return audit.Prune(ctx, a.Store, a.AuditChain, now.Add(-r), a.Holder, now)
}
