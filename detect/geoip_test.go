package detect_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/detect"
	"github.com/tessera-auth/tessera/geoip/geoiptest"
)

// places is a small City database: London, Oxford (80 km away) and Sydney.
func places(t *testing.T) detect.Locator {
	return geoiptest.Open(t,
		geoiptest.Entry{Prefix: netip.MustParsePrefix("81.2.69.0/24"), Lat: 51.5142, Lon: -0.0931, AccuracyKM: 10, Country: "GB"},
		geoiptest.Entry{Prefix: netip.MustParsePrefix("81.2.70.0/24"), Lat: 51.7520, Lon: -1.2577, AccuracyKM: 20, Country: "GB"},
		geoiptest.Entry{Prefix: netip.MustParsePrefix("1.128.0.0/16"), Lat: -33.8688, Lon: 151.2093, AccuracyKM: 50, Country: "AU"},
	)
}

// TestImpossibleTravelOnAGeoIPDatabase: a built MaxMind-format database
// places the uses; a session used in London and then in Sydney 40 minutes
// later fires, a move from London to Oxford does not.
func TestImpossibleTravelOnAGeoIPDatabase(t *testing.T) {
	h := newHarness(t, only(detect.RuleImpossibleTravel), places(t))
	h.send(created("u1", "s1", "81.2.69.160", chromeWin))
	// Oxford 3 minutes later: 1600 km/h, but 80 km is within what a
	// database's guesses are worth (travel_min_km 100).
	h.clock.Add(3 * time.Minute)
	h.send(used("u1", "s1", "81.2.70.9", chromeWin))
	if got := h.alertsOf(detect.RuleImpossibleTravel); len(got) != 0 {
		t.Fatalf("a nearby move fired: %+v", got)
	}
	h.clock.Add(40 * time.Minute)
	h.send(used("u1", "s1", "1.128.0.1", chromeWin)) // Sydney
	got := h.alertsOf(detect.RuleImpossibleTravel)
	if len(got) != 1 {
		t.Fatalf("alerts = %+v, want one", got)
	}
	a := got[0]
	if a.UserID != "u1" || a.SessionID != "s1" || a.Evidence["from_country"] != "GB" || a.Evidence["to_country"] != "AU" || a.Evidence["minutes"] != "40" {
		t.Errorf("alert = %+v", a)
	}
}
