package server

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/tessera-auth/tessera/event"
)

// Metrics are Tessera's Prometheus metrics. Labels never hold a user, an IP
// or a token: only routes, status codes, outcomes and reasons.
type Metrics struct {
	reg       *prometheus.Registry
	requests  *prometheus.CounterVec
	durations *prometheus.HistogramVec
	logins    *prometheus.CounterVec
	revoked   *prometheus.CounterVec
	reuse     prometheus.Counter
	// secondFactor counts second-factor outcomes by method and outcome
	// ("challenged", "success", or an MFAFailed reason).
	secondFactor *prometheus.CounterVec
	ops          opsMetrics

	// Resolved label sets, so the hot path skips hashing label values.
	mu  sync.RWMutex
	obs map[obsKey]observers
}

type obsKey struct {
	listener, route string
	status          int
}

type observers struct {
	count prometheus.Counter
	dur   prometheus.Observer
}

// NewMetrics registers the metrics. activeSessions and cachedSessions are
// read at scrape time.
func NewMetrics(activeSessions func(ctx context.Context) (int, error), cachedSessions func() int) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tessera_http_requests_total", Help: "HTTP requests by listener, route and status code.",
		}, []string{"listener", "route", "code"}),
		durations: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "tessera_http_request_duration_seconds", Help: "HTTP request latency by listener and route.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"listener", "route"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tessera_logins_total", Help: "Password login attempts by outcome.",
		}, []string{"outcome"}),
		revoked: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tessera_sessions_revoked_total", Help: "Sessions revoked by this node, by reason.",
		}, []string{"reason"}),
		reuse: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tessera_refresh_reuse_total", Help: "Rotated refresh tokens presented again (theft signals); each revoked its family.",
		}),
		secondFactor: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tessera_second_factor_total", Help: "Second-factor steps by method and outcome (challenged, success, bad_code, replay, throttled, challenge).",
		}, []string{"method", "outcome"}),
		obs: map[obsKey]observers{},
	}
	m.reg.MustRegister(m.requests, m.durations, m.logins, m.revoked, m.reuse, m.secondFactor,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.registerOps()
	if activeSessions != nil {
		// Counting is a query: cache it so scrapes stay cheap.
		var mu sync.Mutex
		var last time.Time
		var n int
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tessera_sessions_active", Help: "Sessions neither revoked nor expired (absolute), counted at most every 10s.",
		}, func() float64 {
			mu.Lock()
			defer mu.Unlock()
			if time.Since(last) > 10*time.Second {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				defer cancel()
				if v, err := activeSessions(ctx); err == nil {
					n, last = v, time.Now()
				}
			}
			return float64(n)
		}))
	}
	if cachedSessions != nil {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tessera_session_cache_entries", Help: "Sessions held in this node's memory cache.",
		}, func() float64 { return float64(cachedSessions()) }))
	}
	for _, o := range []string{"success", "invalid_credentials", "throttled", "error"} {
		m.logins.WithLabelValues(o)
	}
	return m
}

// Register adds metrics that other parts of the node keep (the Redis
// client's health, the audit writer's counters) to those served.
func (m *Metrics) Register(cs ...prometheus.Collector) error {
	for _, c := range cs {
		if err := m.reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// Handler serves the metrics in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Kinds are the events the metrics count: subscribe m to them.
func (m *Metrics) Kinds() []event.Kind {
	return []event.Kind{event.LoginSucceeded, event.LoginFailed, event.SessionRevoked, event.RefreshReused, event.MFAChallenged, event.MFAFailed, event.TokenIssued, event.Introspected}
}

// Publish counts an event: logins by outcome (LoginSucceeded is published
// once a session started, so a login is counted once), revocations by
// reason, refresh-token reuse, tokens issued and introspections.
func (m *Metrics) Publish(_ context.Context, e event.Event) {
	if m == nil {
		return
	}
	switch e.Kind {
	case event.LoginSucceeded:
		m.logins.WithLabelValues("success").Inc()
		if e.Method != "" {
			m.secondFactor.WithLabelValues(e.Method, "success").Inc()
		}
	case event.MFAChallenged:
		m.secondFactor.WithLabelValues("", "challenged").Inc()
	case event.MFAFailed:
		m.secondFactor.WithLabelValues(e.Method, e.Reason).Inc()
	case event.LoginFailed:
		outcome := "error"
		switch e.Reason {
		case event.ReasonBadCredentials, event.ReasonStaleCredentials:
			outcome = "invalid_credentials"
		case event.ReasonThrottled:
			outcome = "throttled"
		}
		m.logins.WithLabelValues(outcome).Inc()
	case event.SessionRevoked:
		m.revoked.WithLabelValues(e.Reason).Add(float64(e.Count))
	case event.RefreshReused:
		m.reuse.Inc()
	default:
		m.publishOps(e)
	}
}

func (m *Metrics) observe(listener, route string, status int, d time.Duration) {
	k := obsKey{listener, route, status}
	m.mu.RLock()
	o, ok := m.obs[k]
	m.mu.RUnlock()
	if !ok {
		o = observers{
			count: m.requests.WithLabelValues(listener, route, strconv.Itoa(status)),
			dur:   m.durations.WithLabelValues(listener, route),
		}
		m.mu.Lock()
		m.obs[k] = o
		m.mu.Unlock()
	}
	o.count.Inc()
	o.dur.Observe(d.Seconds())
}
