package detect

import (
	"context"
	"errors"
	"hash/maphash"
	"log/slog"
	"net/netip"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/store"
)

// Sessions is what the actions need from the session manager
// (session.Manager).
type Sessions interface {
	RequireStepUp(ctx context.Context, id, reason string) error
	Revoke(ctx context.Context, id, reason string) (store.Session, error)
	RevokeUser(ctx context.Context, userID, except, reason string) ([]string, error)
}

// ReasonDetected is the revocation reason of the revoke_session and
// revoke_user actions.
const ReasonDetected = "theft_detected"

// Config is an Engine's policy and collaborators. Zero fields take the
// defaults in brackets.
type Config struct {
	Policy Policy
	State  State // [NewMemory(0, Now)]
	// Alerts keeps the alerts of firings above log; nil: they are only
	// logged.
	Alerts Alerts
	// Sessions carries out step_up, revoke_session and revoke_user; nil:
	// those actions are only logged and alerted.
	Sessions Sessions
	// Locator places addresses for impossible_travel; nil turns the rule
	// off.
	Locator Locator
	Logger  *slog.Logger
	Now     func() time.Time
	Queue   int // events waiting for the workers, all shards together [8192]
	// Workers is how many goroutines evaluate the rules [4]. Each event
	// goes to the shard of its session (else user, else address), so one
	// session's uses are judged in order; more workers keep a shared
	// State's round trips (Redis, the store) from capping how many events
	// a node can judge.
	Workers int
	// SeenMax bounds the sessions whose last use the publish side
	// remembers [100000]; past it the memory starts afresh.
	SeenMax int
	// Recheck is how long an unchanged use of a session (same network,
	// same user agent) is skipped before the worker sees it again [5m].
	Recheck time.Duration
}

type item struct {
	e    event.Event
	done chan struct{} // a flush marker when not nil
}

// Engine evaluates the rules over the events it is published (Kinds),
// off the request path: Publish enqueues, without blocking, into a
// bounded queue (a full queue drops the event and counts it; events
// anyone can cause, failed logins, refused tokens and token issues, are
// dropped once it is half full), and Run's workers, one per shard of the
// queue, evaluate the rules and act. Safe for concurrent use.
type Engine struct {
	cfg   Config
	pol   Policy
	state State
	log   *slog.Logger
	now   func() time.Time
	qs    []chan item // one per worker; an event's shard is its session's

	dropped  atomic.Uint64
	firingMu sync.Mutex
	firings  map[Firing]uint64

	// The publish side's memory of each session's last use: a repeat
	// (same network and user agent, within Recheck) never reaches the
	// queue.
	seenMu sync.RWMutex
	seen   map[string]lastUse
	seed   maphash.Seed
}

type lastUse struct {
	network netip.Prefix
	ua      uint64
	at      int64 // unix nanoseconds of the last use the worker saw
	// changes counts the uses offered to the worker since since (unix
	// nanoseconds), at most maxChanges per Recheck.
	since   int64
	changes int
}

// maxChanges bounds how many uses of one session reach the queue within
// Recheck: enough for an honest session hopping between Wi-Fi, mobile
// data and IPv4/IPv6 (and for the first uses of a thief, which the rules
// judge at once), while a holder who invents a new user agent on every
// request can neither fill the queue nor raise an alert per invented
// device. A use past the budget waits for the next Recheck.
const maxChanges = 8

// Firing is a counter's labels: a rule and the action it took.
type Firing struct {
	Rule   string
	Action Action
}

// New returns an engine, or the policy's problems.
func New(cfg Config) (*Engine, error) {
	if err := cfg.Policy.Validate(); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.State == nil {
		cfg.State = NewMemory(0, cfg.Now)
	}
	if cfg.Queue <= 0 {
		cfg.Queue = 8192
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.SeenMax <= 0 {
		cfg.SeenMax = 100_000
	}
	if cfg.Recheck <= 0 {
		cfg.Recheck = 5 * time.Minute
	}
	en := &Engine{cfg: cfg, pol: cfg.Policy, state: cfg.State, log: cfg.Logger, now: cfg.Now,
		qs: make([]chan item, cfg.Workers), firings: map[Firing]uint64{}, seen: map[string]lastUse{}, seed: maphash.MakeSeed()}
	for i := range en.qs {
		en.qs[i] = make(chan item, max(cfg.Queue/cfg.Workers, 1))
	}
	return en, nil
}

// shard is the queue of e's worker: its session's, so that one session's
// uses are judged in the order they were published; else its user's,
// else its address's.
func (en *Engine) shard(e event.Event) chan item {
	if len(en.qs) == 1 {
		return en.qs[0]
	}
	key := e.SessionID
	if key == "" {
		key = e.UserID
	}
	var h uint64
	if key != "" {
		h = maphash.String(en.seed, key)
	} else if e.IP.IsValid() {
		h = maphash.Comparable(en.seed, e.IP)
	}
	return en.qs[h%uint64(len(en.qs))]
}

// Kinds is what the rules read.
func (en *Engine) Kinds() []event.Kind {
	return []event.Kind{event.SessionCreated, event.SessionValidated, event.RefreshRotated, event.RefreshReused,
		event.TokenIssued, event.LoginFailed}
}

// Dropped counts events dropped at a full queue.
func (en *Engine) Dropped() uint64 { return en.dropped.Load() }

// Firings returns how often each rule fired with each action.
func (en *Engine) Firings() map[Firing]uint64 {
	en.firingMu.Lock()
	defer en.firingMu.Unlock()
	out := make(map[Firing]uint64, len(en.firings))
	for k, v := range en.firings {
		out[k] = v
	}
	return out
}

// Publish queues e for the worker. It never blocks and never touches
// State: an accepted SessionValidated — one per authenticated request —
// is dropped here when its session was last used from the same network
// with the same user agent less than Recheck ago (a map read under a read
// lock, no allocation); so is a use a client made on the holder's
// behalf (introspection, revocation), whose address is not the holder's.
func (en *Engine) Publish(_ context.Context, e event.Event) {
	if e.Kind == event.SessionValidated {
		if e.Reason != "" {
			if e.SessionID == "" {
				return // an unknown token names no victim; probes are probe's
			}
		} else if e.Via != "" || e.SessionID == "" || !en.changed(e) {
			return
		}
	}
	q := en.shard(e)
	if !sessionUse(e) && len(q) >= max(cap(q)/2, 1) {
		// Failed logins and refused tokens cost their sender nothing:
		// half the queue is kept for the uses of live sessions, so a
		// flood of them cannot crowd out a stolen session's use.
		en.dropped.Add(1)
		return
	}
	select {
	case q <- item{e: e}:
	default:
		en.dropped.Add(1)
		if e.Kind == event.SessionValidated && e.Reason == "" {
			// The worker never saw this use: let the next one through.
			en.seenMu.Lock()
			delete(en.seen, e.SessionID)
			en.seenMu.Unlock()
		}
	}
}

// sessionUse reports whether e is a use of a live session (or its
// start or refresh): what only a credential's holder can make happen.
func sessionUse(e event.Event) bool {
	switch e.Kind {
	case event.SessionCreated, event.RefreshRotated, event.RefreshReused:
		return true
	case event.SessionValidated:
		return e.Reason == ""
	}
	return false
}

// changed reports whether e is a use of its session the worker should
// see, and remembers it if so.
func (en *Engine) changed(e event.Event) bool {
	u := lastUse{network: Network(e.IP, en.pol.IPv4Prefix, en.pol.IPv6Prefix), ua: maphash.String(en.seed, e.UserAgent), at: e.At.UnixNano()}
	en.seenMu.RLock()
	last, ok := en.seen[e.SessionID]
	en.seenMu.RUnlock()
	if ok && last.network == u.network && last.ua == u.ua && u.at-last.at < int64(en.cfg.Recheck) {
		return false // a repeat (or a concurrent request stamped a little earlier)
	}
	en.seenMu.Lock()
	defer en.seenMu.Unlock()
	last, ok = en.seen[e.SessionID]
	if ok && last.network == u.network && last.ua == u.ua && u.at-last.at < int64(en.cfg.Recheck) {
		return false // another request got here first
	}
	u.since, u.changes = u.at, 1
	if ok && u.at-last.since < int64(en.cfg.Recheck) {
		if last.changes >= maxChanges {
			return false // over budget until Recheck after since
		}
		u.since, u.changes = last.since, last.changes+1
	}
	if len(en.seen) >= en.cfg.SeenMax {
		en.seen = map[string]lastUse{}
	}
	en.seen[e.SessionID] = u
	return true
}

// Flush returns once every event queued before it was evaluated (or ctx
// ends).
func (en *Engine) Flush(ctx context.Context) error {
	dones := make([]chan struct{}, len(en.qs))
	for i, q := range en.qs {
		dones[i] = make(chan struct{})
		select {
		case q <- item{done: dones[i]}:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for _, done := range dones {
		select {
		case <-done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Run evaluates queued events until ctx ends, one worker per shard
// (Config.Workers); it returns once every worker has.
func (en *Engine) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, q := range en.qs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			en.work(ctx, q)
		}()
	}
	wg.Wait()
}

// work evaluates the events of one shard in order until ctx ends.
func (en *Engine) work(ctx context.Context, q chan item) {
	for {
		select {
		case <-ctx.Done():
			return
		case it := <-q:
			if it.done != nil {
				close(it.done)
				continue
			}
			en.evaluate(ctx, it.e)
		}
	}
}

// fire is one firing: a rule, what it concerns and the evidence.
type fire struct {
	rule      string
	severity  string
	action    Action
	once      string // the incident key: one firing per incident per window
	window    time.Duration
	at        time.Time
	userID    string
	sessionID string
	clientID  string
	ip        netip.Addr
	evidence  map[string]string
	capAt     Action // the mildest of this and the rule's action is taken
}

// act carries out f once per incident: the action, then the alert
// naming what was done.
func (en *Engine) act(ctx context.Context, f fire) {
	if f.once != "" {
		first, err := en.state.Once(ctx, "fired:"+f.rule+":"+f.once, f.at, f.window)
		if err != nil {
			en.log.Warn("detection state unavailable; firing anyway", "rule", f.rule, "err", err)
		} else if !first {
			return
		}
	}
	taken := f.action
	var actErr error
	if en.cfg.Sessions == nil && actionRank[taken] > actionRank[ActionAlert] {
		taken, actErr = ActionAlert, errors.New("no session manager wired")
	}
	switch taken {
	case ActionStepUp:
		actErr = en.cfg.Sessions.RequireStepUp(ctx, f.sessionID, f.rule)
	case ActionRevokeSession:
		_, actErr = en.cfg.Sessions.Revoke(ctx, f.sessionID, ReasonDetected)
	case ActionRevokeUser:
		_, actErr = en.cfg.Sessions.RevokeUser(ctx, f.userID, "", ReasonDetected)
	}
	if actErr != nil {
		// The action failed: say so, and alert at least.
		if f.evidence == nil {
			f.evidence = map[string]string{}
		}
		f.evidence["action_wanted"] = string(f.action)
		f.evidence["action_error"] = actErr.Error()
		taken = ActionAlert
	}
	// The log line and the alert carry the evidence; a value that could be
	// a credential (an action's error quoting one, say) is redacted here,
	// once, for both.
	for k, v := range f.evidence {
		f.evidence[k] = event.Redact(v)
	}
	en.firingMu.Lock()
	en.firings[Firing{Rule: f.rule, Action: taken}]++
	en.firingMu.Unlock()
	attrs := []any{"rule", f.rule, "action", string(taken), "severity", f.severity, "user_id", f.userID, "session_id", f.sessionID}
	if f.clientID != "" {
		attrs = append(attrs, "client_id", f.clientID)
	}
	if f.ip.IsValid() {
		attrs = append(attrs, "ip", f.ip.String())
	}
	for _, k := range sortedKeys(f.evidence) {
		attrs = append(attrs, k, f.evidence[k])
	}
	if taken == ActionLog {
		en.log.Info("detection rule fired", attrs...)
		return
	}
	en.log.Warn("detection rule fired", attrs...)
	if en.cfg.Alerts == nil {
		return
	}
	_, err := en.cfg.Alerts.Raise(ctx, Alert{At: f.at, Rule: f.rule, Severity: f.severity, Action: taken, UserID: f.userID,
		SessionID: f.sessionID, ClientID: f.clientID, IP: f.ip, Evidence: f.evidence})
	if err != nil {
		en.log.Error("alert not stored", "rule", f.rule, "user_id", f.userID, "session_id", f.sessionID, "err", err)
	}
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
