package bench

import "testing"

// detectFixtures are two fixtures alike but for detection and the audit
// log: both off, both on (the default). 20k live sessions each, warmed
// (see onOff), so the benchmarks measure the steady state: the rules see
// a session again only when its network or user agent changes, or every
// 5 minutes.
var detectFixtures onOff

func detectOptions(off bool) Options {
	return Options{Sessions: 20000, Users: 2000, AuditOff: off, DetectionOff: off}
}

// BenchmarkWhoamiDetection: GET /v1/session by cookie over loopback with
// detection and the audit log both off, then both on, alternating (see
// alternate). Ratio = ns/op(off) / ns/op(on); the target is ≥ 0.9.
func BenchmarkWhoamiDetection(b *testing.B) {
	whoamiOnOff(b, "detect-audit-", detectFixtures.fixtures(b, detectOptions), 5)
}

// BenchmarkWhoamiDetectionHandler: the whoami handler alone (no
// network), detection and audit off and on.
func BenchmarkWhoamiDetectionHandler(b *testing.B) {
	whoamiHandlerOnOff(b, "detect-audit-", detectFixtures.fixtures(b, detectOptions), 6)
}
