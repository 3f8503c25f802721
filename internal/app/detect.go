package app

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tessera-auth/tessera/config"
	"github.com/tessera-auth/tessera/detect"
)

// DetectionPolicy is the configuration's detection policy.
func DetectionPolicy(c config.Detection) detect.Policy {
	p := detect.Policy{Rules: map[string]detect.Rule{}, IPv4Prefix: c.IPv4Prefix, IPv6Prefix: c.IPv6Prefix, TravelMinKM: float64(c.TravelMinKM)}
	c.Rules.Each(func(name string, r config.DetectionRule) {
		p.Rules[name] = detect.Rule{Enabled: r.Enabled, Action: detect.Action(r.Action), Threshold: int64(r.Threshold), Window: r.Window.D()}
	})
	return p
}

// detectionState is where the rules keep their windows. Memory is this
// node's alone; the cluster's shared state (Redis when configured,
// otherwise the store) plugs in here.
func (a *App) detectionState() (detect.State, error) {
	return detect.NewMemory(0, a.now), nil
}

// detectionAlerts keeps the alerts of firings above log: nil logs them
// only, until package alert's store plugs in here.
func (a *App) detectionAlerts() detect.Alerts { return nil }

// detectionLocator places addresses for impossible_travel: nil without
// a GeoIP database (the rule is off).
func detectionLocator(c config.Detection) (detect.Locator, error) {
	if c.GeoIPDatabase == "" {
		return nil, nil
	}
	return nil, errors.New("detection.geoip_database: this build has no GeoIP reader yet")
}

// wireDetection subscribes the detection engine to the events its rules
// read, unless the configuration turns detection off, and exports its
// counters.
func (a *App) wireDetection() error {
	c := a.Config.Detection
	if !c.Enabled {
		return nil
	}
	st, err := a.detectionState()
	if err != nil {
		return err
	}
	loc, err := detectionLocator(c)
	if err != nil {
		return err
	}
	en, err := detect.New(detect.Config{
		Policy: DetectionPolicy(c), State: st, Alerts: a.detectionAlerts(), Sessions: a.Sessions, Locator: loc,
		Logger: a.log, Now: a.now, Queue: c.Queue,
	})
	if err != nil {
		return err
	}
	a.Detect = en
	a.Events.Subscribe(en, en.Kinds()...)
	return a.Metrics.Register(
		detectionFirings{en: en, configured: DetectionPolicy(c)},
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "tessera_detection_events_dropped_total",
			Help: "Events the detection rules never saw because their queue was full.",
		}, func() float64 { return float64(en.Dropped()) }),
	)
}

// runDetection evaluates the rules until ctx ends.
func (a *App) runDetection(ctx context.Context) {
	if a.Detect != nil {
		a.Detect.Run(ctx)
	}
}

// FlushDetection waits until every event published so far was evaluated
// (tests), or 5 s.
func (a *App) FlushDetection(ctx context.Context) error {
	if a.Detect == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return a.Detect.Flush(ctx)
}

var firingsDesc = prometheus.NewDesc("tessera_detection_firings_total",
	"Detection rule firings by rule and the action taken (no user labels).", []string{"rule", "action"}, nil)

// detectionFirings exports the engine's firing counters; each enabled
// rule's configured action is there from the start, at zero.
type detectionFirings struct {
	en         *detect.Engine
	configured detect.Policy
}

func (d detectionFirings) Describe(ch chan<- *prometheus.Desc) { ch <- firingsDesc }

func (d detectionFirings) Collect(ch chan<- prometheus.Metric) {
	got := d.en.Firings()
	for name, r := range d.configured.Rules {
		if k := (detect.Firing{Rule: name, Action: r.Action}); r.Enabled {
			if _, ok := got[k]; !ok {
				got[k] = 0
			}
		}
	}
	for f, n := range got {
		ch <- prometheus.MustNewConstMetric(firingsDesc, prometheus.CounterValue, float64(n), f.Rule, string(f.Action))
	}
}
