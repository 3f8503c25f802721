package app

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tessera-auth/tessera/alert"
	"github.com/tessera-auth/tessera/config"
	"github.com/tessera-auth/tessera/webhook"
)

// Webhooks are the configured webhooks with their secrets read (from
// the file when secret_file is set) and parsed. An unreadable or
// malformed secret stops the start: a webhook that cannot sign must not
// be sent unsigned or dropped silently.
func Webhooks(c config.Config) ([]alert.Webhook, error) {
	var out []alert.Webhook
	for _, w := range c.Webhooks {
		s := w.Secret
		if w.SecretFile != "" {
			path := w.SecretFile
			if !filepath.IsAbs(path) && c.Data != "" {
				path = filepath.Join(c.Data, path)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return nil, fmt.Errorf("webhooks %s: secret_file: %w", w.Name, err)
			}
			s = string(b)
		}
		key, err := alert.ParseSecret(s)
		if err != nil {
			return nil, fmt.Errorf("webhooks %s: %w", w.Name, err)
		}
		out = append(out, alert.Webhook{Name: w.Name, URL: w.URL, Secret: key, MinSeverity: w.MinSeverity, Rules: w.Rules, Timeout: w.Timeout.D()})
	}
	return out, nil
}

// wireAlerts builds the alert service (detect.Alerts) and the webhook
// dispatcher, and their metrics.
func (a *App) wireAlerts() error {
	hooks, err := Webhooks(a.Config)
	if err != nil {
		return err
	}
	raised := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tessera_alerts_total",
		Help: "Alerts raised, by rule, action taken and severity."}, []string{"rule", "action", "severity"})
	attempts := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tessera_webhook_deliveries_total",
		Help: "Webhook delivery attempts, by outcome: delivered, retry (failed, to be tried again) or failed (given up)."}, []string{"outcome"})
	st := a.Store
	pending := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tessera_webhook_outbox_pending",
		Help: "Webhook deliveries neither delivered nor given up on (every node's, from the store)."}, func() float64 {
		n, err := st.CountPendingDeliveries(context.Background())
		if err != nil {
			return -1
		}
		return float64(n)
	})
	if err := a.Metrics.Register(raised, attempts, pending); err != nil {
		return err
	}
	ac := a.Config.Alerts
	a.Dispatcher = alert.NewDispatcher(alert.DispatchConfig{
		Outbox: st, Sender: webhook.New(), Webhooks: hooks, Holder: a.Holder,
		Retry:     RetryPolicy(ac),
		Attempted: func(o string) { attempts.WithLabelValues(o).Inc() },
		Logger:    a.log, Now: a.now,
	})
	a.Alerts = alert.NewService(alert.Config{
		Store: st, Webhooks: hooks, Events: a.Events, Now: a.now,
		Counted: func(rule, action, severity string) { raised.WithLabelValues(rule, action, severity).Inc() },
		Queued:  a.Dispatcher.Wake,
	})
	return nil
}

// runDispatcher delivers the webhook outbox until ctx ends.
func (a *App) runDispatcher(ctx context.Context) {
	if a.Dispatcher != nil {
		a.Dispatcher.Run(ctx)
	}
}

// PruneAlerts deletes alerts and finished deliveries older than the
// retention, if one is configured.
func (a *App) PruneAlerts(ctx context.Context) (int, error) {
	r := a.Config.Alerts.Retention.D()
	if r <= 0 {
		return 0, nil
	}
	return a.Store.PruneAlerts(ctx, a.now().Add(-r))
}

// RetryPolicy is the configuration's webhook retry schedule.
func RetryPolicy(ac config.Alerts) alert.Retry {
	return alert.Retry{MinBackoff: ac.MinBackoff.D(), MaxBackoff: ac.MaxBackoff.D(), MaxAttempts: ac.MaxAttempts, MaxAge: ac.MaxAge.D()}
}
