package server

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/internal/buildinfo"
)

// opsMetrics are the metrics an operator watches besides requests and
// logins: what was built, tokens issued, introspections, and the health of
// the revocation feed, the signing keys and the disk.
type opsMetrics struct {
	issued        *prometheus.CounterVec
	introspection *prometheus.CounterVec
	fsync         prometheus.Histogram
}

func (m *Metrics) registerOps() {
	b := buildinfo.Current()
	info := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "tessera_build_info", Help: "Always 1; the labels name the running build (tessera version).",
	}, []string{"version", "revision", "goversion"})
	info.WithLabelValues(b.Version, b.Revision, b.Go).Set(1)
	m.ops = opsMetrics{
		issued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tessera_tokens_issued_total", Help: "Access and refresh tokens minted by this node, by token kind, format and grant (login, refresh_token, client_credentials).",
		}, []string{"token", "format", "grant"}),
		introspection: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tessera_introspections_total", Help: "RFC 7662 introspections answered by this node, by outcome (active, inactive).",
		}, []string{"outcome"}),
		fsync: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "tessera_sqlite_fsync_duration_seconds", Help: "Latency of the embedded store's WAL fsyncs (one covers every commit made while the previous one ran).",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}),
	}
	m.reg.MustRegister(info, m.ops.issued, m.ops.introspection, m.ops.fsync)
	for _, o := range []string{"active", "inactive"} {
		m.ops.introspection.WithLabelValues(o)
	}
}

// publishOps counts the token events (see Publish).
func (m *Metrics) publishOps(e event.Event) {
	switch e.Kind {
	case event.TokenIssued:
		format := e.Format
		if format == "" {
			format = "opaque" // refresh tokens are always opaque
		}
		m.ops.issued.WithLabelValues(e.Token, format, e.Grant).Inc()
	case event.Introspected:
		outcome := "inactive"
		if e.Active {
			outcome = "active"
		}
		m.ops.introspection.WithLabelValues(outcome).Inc()
	}
}

// ObserveFsync records one fsync of the embedded store's WAL; give it to
// the store (sqlite.Store.ObserveFsync). Safe for concurrent use.
func (m *Metrics) ObserveFsync(d time.Duration) { m.ops.fsync.Observe(d.Seconds()) }

// WatchFeed reports the revocation feed's staleness at scrape time:
// lastRead is when this node last read the feed to its end (zero: not
// yet). A value growing past policy.session.revocation_poll means the
// node does not see other nodes' revocations.
func (m *Metrics) WatchFeed(lastRead func() time.Time) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "tessera_revocation_feed_staleness_seconds", Help: "Time since this node last read the revocation feed to its end.",
	}, func() float64 { return since(lastRead()) }))
}

// WatchSigningKey reports the active signing key's age at scrape time:
// activated is when it began to sign (zero: no key yet).
func (m *Metrics) WatchSigningKey(activated func() time.Time) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "tessera_signing_key_age_seconds", Help: "Time since the active signing key began to sign (rotation: policy.keys.rotation_interval).",
	}, func() float64 { return since(activated()) }))
}

func since(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return time.Since(t).Seconds()
}
