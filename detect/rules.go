package detect

import (
	"context"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/tessera-auth/tessera/event"
)

// evaluate runs the rules that read e's kind. A State error skips the
// rule for this event (logged): detection is best effort and never fails
// the operations it watches.
func (en *Engine) evaluate(ctx context.Context, e event.Event) {
	if e.At.IsZero() {
		e.At = en.now()
	}
	switch e.Kind {
	case event.SessionCreated:
		en.use(ctx, e)
		en.counted(ctx, e, RuleSessionBurst, "sb:"+e.UserID, e.UserID != "", SeverityMedium, fire{userID: e.UserID})
	case event.SessionValidated:
		if e.Reason == "" {
			en.use(ctx, e)
			return
		}
		if e.Reason == event.ReasonRevoked || e.Reason == event.ReasonExpired {
			ev := map[string]string{"outcome": e.Reason}
			if e.Token != "" {
				ev["token"] = e.Token
			}
			if e.JTI != "" {
				ev["jti"] = e.JTI
			}
			if e.Via != "" {
				ev["via"] = e.Via
			}
			if !en.newPresentation(ctx, e) {
				return
			}
			f := fire{userID: e.UserID, sessionID: e.SessionID, ip: e.IP, evidence: ev}
			severity := SeverityHigh
			if e.Reason == event.ReasonExpired {
				// Most often its own user coming back: a signal, logged.
				severity, f.capAt = SeverityLow, ActionLog
			}
			en.counted(ctx, e, RuleRevokedTokenReuse, "rt:"+e.Reason+":"+e.SessionID, true, severity, f)
		}
	case event.RefreshRotated:
		en.use(ctx, e)
		en.counted(ctx, e, RuleRefreshRate, "rr:"+e.SessionID, e.SessionID != "", SeverityMedium,
			fire{userID: e.UserID, sessionID: e.SessionID, clientID: e.ClientID, ip: e.IP})
	case event.RefreshReused:
		if r, ok := en.pol.rule(RuleRefreshReuse); ok {
			en.act(ctx, fire{rule: RuleRefreshReuse, severity: SeverityHigh, action: r.Action, once: e.SessionID, window: r.Window, at: e.At,
				userID: e.UserID, sessionID: e.SessionID, clientID: e.ClientID, ip: e.IP,
				evidence: map[string]string{"why": e.Reason, "device": Device(e.UserAgent), "family_revoked": "true"}})
		}
	case event.TokenIssued:
		key, subj := e.UserID, "user"
		if key == "" {
			key, subj = e.ClientID, "client"
		}
		en.counted(ctx, e, RuleTokenBurst, "tb:"+subj+":"+key, key != "", SeverityMedium,
			fire{userID: e.UserID, clientID: e.ClientID, evidence: map[string]string{"per": subj}})
	case event.LoginFailed:
		if e.Reason != event.ReasonBadCredentials && e.Reason != event.ReasonThrottled {
			return
		}
		en.counted(ctx, e, RuleLoginFailuresAccount, "lfa:"+e.UserID, e.UserID != "", SeverityMedium,
			fire{userID: e.UserID, ip: e.IP})
		n := Network(e.IP, en.pol.IPv4Prefix, en.pol.IPv6Prefix)
		if !n.IsValid() {
			return
		}
		en.counted(ctx, e, RuleLoginFailuresIP, "lfi:"+n.String(), true, SeverityMedium,
			fire{ip: e.IP, evidence: map[string]string{"network": n.String()}})
		en.stuffing(ctx, e, n)
	}
}

// presentationGap is how long presentations of one dead credential from
// one network and device count as one: a page with several requests in
// flight when its session was revoked presents the cookie several times
// at once before the first refusal clears it.
const presentationGap = 10 * time.Second

// newPresentation reports whether e, a dead credential presented, is not
// a repeat from the same network and device within presentationGap. A
// state error counts it (fail towards the alert).
func (en *Engine) newPresentation(ctx context.Context, e event.Event) bool {
	if _, ok := en.pol.rule(RuleRevokedTokenReuse); !ok {
		return false
	}
	key := "rtp:" + e.SessionID + ":" + e.JTI + ":" + Network(e.IP, en.pol.IPv4Prefix, en.pol.IPv6Prefix).String() + ":" + Device(e.UserAgent)
	first, err := en.state.Once(ctx, key, e.At, presentationGap)
	if err != nil {
		en.log.Warn("detection state unavailable", "rule", RuleRevokedTokenReuse, "err", err)
		return true
	}
	return first
}

// counted is the shape of the counting rules: one more under key; at the
// threshold within the window, fire once per window for the key.
func (en *Engine) counted(ctx context.Context, e event.Event, rule, key string, applies bool, severity string, f fire) {
	r, ok := en.pol.rule(rule)
	if !ok || !applies {
		return
	}
	n, err := en.state.Count(ctx, key, e.At, r.Window)
	if err != nil {
		en.log.Warn("detection state unavailable", "rule", rule, "err", err)
		return
	}
	if n < r.Threshold {
		return
	}
	f.rule, f.severity, f.action, f.once, f.window, f.at = rule, severity, r.Action, key, r.Window, e.At
	if f.capAt != "" && actionRank[f.action] > actionRank[f.capAt] {
		f.action = f.capAt
	}
	if f.evidence == nil {
		f.evidence = map[string]string{}
	}
	f.evidence["count"] = strconv.FormatInt(n, 10)
	f.evidence["window"] = r.Window.String()
	en.act(ctx, f)
}

// stuffing is credential_stuffing: failed logins for many accounts from
// one network. Unknown accounts carry no user id and are not counted
// here (login_failures_ip counts them).
func (en *Engine) stuffing(ctx context.Context, e event.Event, n netip.Prefix) {
	r, ok := en.pol.rule(RuleCredentialStuffing)
	if !ok || e.UserID == "" {
		return
	}
	seen, err := en.state.Observe(ctx, "cs:"+n.String(), e.UserID, e.At, r.Window, int(r.Threshold))
	if err != nil {
		en.log.Warn("detection state unavailable", "rule", RuleCredentialStuffing, "err", err)
		return
	}
	if int64(len(seen)) < r.Threshold {
		return
	}
	en.act(ctx, fire{rule: RuleCredentialStuffing, severity: SeverityHigh, action: r.Action, once: n.String(), window: r.Window, at: e.At, ip: e.IP,
		evidence: map[string]string{"network": n.String(), "accounts": strconv.Itoa(len(seen)) + "+", "window": r.Window.String()}})
}

// use runs the rules that compare one use of a session with the earlier
// ones: session_networks, device_change, impossible_travel and
// unusual_activity.
func (en *Engine) use(ctx context.Context, e event.Event) {
	if e.SessionID == "" {
		return
	}
	n := Network(e.IP, en.pol.IPv4Prefix, en.pol.IPv6Prefix)
	dev := Device(e.UserAgent)
	if dev == "" && n.IsValid() {
		// A request without a User-Agent: no browser sends none, and a
		// thief who strips it must not slip past the device rule. An
		// event from no request (no address either) is left out.
		dev = noUserAgent
	}
	newNetwork := false
	if n.IsValid() {
		newNetwork = en.sessionNetworks(ctx, e, n)
	}
	if dev != "" {
		en.deviceChange(ctx, e, n, dev, newNetwork)
	}
	if n.IsValid() {
		en.travel(ctx, e, n)
		en.unusual(ctx, e, n)
	}
}

// noUserAgent is the device of a request that sent no User-Agent.
const noUserAgent = "none"

// sessionNetworks observes the session's network and reports whether it
// is one the session had not used before (within the longer of
// session_networks' and device_change's windows).
func (en *Engine) sessionNetworks(ctx context.Context, e event.Event, n netip.Prefix) bool {
	sn, snOK := en.pol.rule(RuleSessionNetworks)
	dc, dcOK := en.pol.rule(RuleDeviceChange)
	if !snOK && !dcOK {
		return false
	}
	window := max(sn.Window, dc.Window)
	if !snOK {
		window = dc.Window
	} else if !dcOK {
		window = sn.Window
	}
	seen, err := en.state.Observe(ctx, "sn:"+e.SessionID, n.String(), e.At, window, 16)
	if err != nil {
		en.log.Warn("detection state unavailable", "rule", RuleSessionNetworks, "err", err)
		return false
	}
	isNew := len(seen) > 1 && firstSeenAt(seen, n.String(), e.At)
	if !snOK {
		return isNew
	}
	// Each address family is counted on its own: a dual-stack device
	// that moves (home Wi-Fi to mobile data) changes its IPv4 and its
	// IPv6 network at once, two networks for one move.
	var within []string
	var v4, v6 int64
	for _, s := range seen {
		if !s.Last.Before(e.At.Add(-sn.Window)) {
			within = append(within, s.Member)
			if strings.Contains(s.Member, ":") {
				v6++
			} else {
				v4++
			}
		}
	}
	if max(v4, v6) >= sn.Threshold {
		en.act(ctx, fire{rule: RuleSessionNetworks, severity: SeverityMedium, action: sn.Action, once: e.SessionID, window: sn.Window, at: e.At,
			userID: e.UserID, sessionID: e.SessionID, ip: e.IP,
			evidence: map[string]string{"networks": strings.Join(within, " "), "window": sn.Window.String()}})
	}
	return isNew
}

// firstSeenAt reports whether member was first seen at at: a newcomer.
func firstSeenAt(seen []Seen, member string, at time.Time) bool {
	for _, s := range seen {
		if s.Member == member {
			return s.First.Equal(at)
		}
	}
	return false
}

// deviceChange is device_change. A device change from a network the
// session already used is more likely a quirk (a "desktop site" toggle, a
// classifier miss) than a theft: its action is capped at step_up. A
// change of device and network together is what a replayed stolen
// cookie looks like, and takes the configured action — when both devices
// are browsers; a change to or from anything else is capped at alert.
func (en *Engine) deviceChange(ctx context.Context, e event.Event, n netip.Prefix, dev string, newNetwork bool) {
	r, ok := en.pol.rule(RuleDeviceChange)
	if !ok {
		return
	}
	seen, err := en.state.Observe(ctx, "dv:"+e.SessionID, dev, e.At, r.Window, 8)
	if err != nil {
		en.log.Warn("detection state unavailable", "rule", RuleDeviceChange, "err", err)
		return
	}
	if int64(len(seen)) < r.Threshold || !firstSeenAt(seen, dev, e.At) {
		return
	}
	action := r.Action
	if !newNetwork && actionRank[action] > actionRank[ActionStepUp] {
		action = ActionStepUp
	}
	devs := make([]string, len(seen))
	otherBrowser, toggled := false, false
	for i, s := range seen {
		devs[i] = s.Member
		otherBrowser = otherBrowser || s.Member != dev && browser(s.Member)
		toggled = toggled || desktopSite(s.Member, dev)
	}
	if toggled {
		// The same browser asking for the desktop (or mobile) site: a
		// quirk, alerted on a known network, at most a step-up from a
		// new one (a phone on mobile data hops networks).
		most := ActionStepUp
		if !newNetwork {
			most = ActionAlert
		}
		if actionRank[action] > actionRank[most] {
			action = most
		}
	}
	if (!browser(dev) || !otherBrowser) && actionRank[action] > actionRank[ActionAlert] {
		// Not one browser after another: a server rendering pages with
		// the browser's cookie (SSR, a BFF), or a native app whose login
		// ran in a web view, presents it with its HTTP library's user
		// agent, often from another network. A thief's script looks the
		// same, so it is alerted, never acted on (docs/detection.md).
		action = ActionAlert
	}
	ev := map[string]string{"device": dev, "devices": strings.Join(devs, " "), "new_network": strconv.FormatBool(newNetwork)}
	if n.IsValid() {
		ev["network"] = n.String()
	}
	en.act(ctx, fire{rule: RuleDeviceChange, severity: SeverityHigh, action: action, once: e.SessionID + ":" + dev, window: r.Window, at: e.At,
		userID: e.UserID, sessionID: e.SessionID, ip: e.IP, evidence: ev})
}

// travel is impossible_travel over the uses of all of one user's
// sessions: each use's network is kept with where the database places it.
func (en *Engine) travel(ctx context.Context, e event.Event, n netip.Prefix) {
	r, ok := en.pol.rule(RuleImpossibleTravel)
	if !ok || en.cfg.Locator == nil || e.UserID == "" {
		return
	}
	loc, found := en.cfg.Locator.Lookup(e.IP.Unmap())
	if !found {
		return
	}
	here := place{lat: loc.Lat, lon: loc.Lon, acc: loc.AccuracyKM, country: loc.Country}
	seen, err := en.state.Observe(ctx, "it:"+e.UserID, n.String()+"|"+here.String(), e.At, r.Window, 8)
	if err != nil {
		en.log.Warn("detection state unavailable", "rule", RuleImpossibleTravel, "err", err)
		return
	}
	// The most recent other place this user was seen at.
	for _, s := range seen {
		netw, p, ok := parsePlace(s.Member)
		if !ok || netw == n.String() {
			continue
		}
		km := distanceKM(here, p)
		if km <= max(en.pol.TravelMinKM, float64(here.acc+p.acc)) {
			return // nearby, as far as the database can tell
		}
		hours := e.At.Sub(s.Last).Hours()
		speed := math.Inf(1)
		if hours > 0 {
			speed = km / hours
		}
		if speed <= float64(r.Threshold) {
			return
		}
		en.act(ctx, fire{rule: RuleImpossibleTravel, severity: SeverityHigh, action: r.Action, once: e.SessionID, window: r.Window, at: e.At,
			userID: e.UserID, sessionID: e.SessionID, ip: e.IP, evidence: map[string]string{
				"from_network": netw, "from_country": p.country, "to_network": n.String(), "to_country": here.country,
				"distance_km": strconv.Itoa(int(km)), "minutes": strconv.Itoa(int(e.At.Sub(s.Last).Minutes())),
				"speed_kmh": speedText(speed)}})
		return
	}
}

func speedText(v float64) string {
	if math.IsInf(v, 1) {
		return "inf"
	}
	return strconv.Itoa(int(v))
}

// place is where the database put a use.
type place struct {
	lat, lon float64
	acc      int
	country  string
}

func (p place) String() string {
	return fmt.Sprintf("%.3f,%.3f,%d,%s", p.lat, p.lon, p.acc, p.country)
}

func parsePlace(member string) (string, place, bool) {
	netw, rest, ok := strings.Cut(member, "|")
	if !ok {
		return "", place{}, false
	}
	f := strings.Split(rest, ",")
	if len(f) != 4 {
		return "", place{}, false
	}
	lat, err1 := strconv.ParseFloat(f[0], 64)
	lon, err2 := strconv.ParseFloat(f[1], 64)
	acc, err3 := strconv.Atoi(f[2])
	if err1 != nil || err2 != nil || err3 != nil {
		return "", place{}, false
	}
	return netw, place{lat: lat, lon: lon, acc: acc, country: f[3]}, true
}

// distanceKM is the great-circle distance (haversine, mean Earth radius).
func distanceKM(a, b place) float64 {
	const r = 6371.0
	rad := math.Pi / 180
	dlat, dlon := (b.lat-a.lat)*rad, (b.lon-a.lon)*rad
	h := math.Sin(dlat/2)*math.Sin(dlat/2) + math.Cos(a.lat*rad)*math.Cos(b.lat*rad)*math.Sin(dlon/2)*math.Sin(dlon/2)
	return 2 * r * math.Asin(math.Min(1, math.Sqrt(h)))
}

// unusual is unusual_activity: a use from a network and at an hour of
// the day (UTC) neither of which the user was seen at before, once the
// user has Threshold or more established hours (first seen a day or more
// earlier). A low-severity signal.
func (en *Engine) unusual(ctx context.Context, e event.Event, n netip.Prefix) {
	r, ok := en.pol.rule(RuleUnusualActivity)
	if !ok || e.UserID == "" {
		return
	}
	hour := "h" + strconv.Itoa(e.At.UTC().Hour())
	hours, err := en.state.Observe(ctx, "uh:"+e.UserID, hour, e.At, r.Window, 24)
	if err != nil {
		en.log.Warn("detection state unavailable", "rule", RuleUnusualActivity, "err", err)
		return
	}
	nets, err := en.state.Observe(ctx, "un:"+e.UserID, n.String(), e.At, r.Window, 64)
	if err != nil {
		en.log.Warn("detection state unavailable", "rule", RuleUnusualActivity, "err", err)
		return
	}
	established := 0
	for _, s := range hours {
		if !s.First.After(e.At.Add(-24 * time.Hour)) {
			established++
		}
	}
	if int64(established) < r.Threshold || !firstSeenAt(hours, hour, e.At) || !firstSeenAt(nets, n.String(), e.At) {
		return
	}
	en.act(ctx, fire{rule: RuleUnusualActivity, severity: SeverityLow, action: r.Action, once: e.UserID + ":" + n.String(), window: 24 * time.Hour, at: e.At,
		userID: e.UserID, sessionID: e.SessionID, ip: e.IP,
		evidence: map[string]string{"network": n.String(), "hour_utc": strconv.Itoa(e.At.UTC().Hour()), "known_hours": strconv.Itoa(established)}})
}
