package bench

import "testing"

// auditFixtures are two fixtures alike but for the audit log (off, on):
// 20k live sessions each, warmed (see onOff), so each session's one audit
// record (the validation summary) is behind them.
var auditFixtures onOff

func auditOptions(off bool) Options {
	return Options{Sessions: 20000, Users: 2000, AuditOff: off}
}

// BenchmarkWhoamiAudit: GET /v1/session by cookie over loopback with the
// audit log off and on.
func BenchmarkWhoamiAudit(b *testing.B) {
	whoamiOnOff(b, "audit-", auditFixtures.fixtures(b, auditOptions), 3)
}

// BenchmarkWhoamiAuditHandler: the whoami handler alone (no network),
// audit off and on.
func BenchmarkWhoamiAuditHandler(b *testing.B) {
	whoamiHandlerOnOff(b, "audit-", auditFixtures.fixtures(b, auditOptions), 4)
}
