package tessera_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDomainDependencies keeps the domain packages free of HTTP, database
// drivers, Redis and exporters (tailscale's deptest habit): they must stay
// testable and reusable behind any transport and any backend.
func TestDomainDependencies(t *testing.T) {
	const mod = "github.com/tessera-auth/tessera/"
	forbidden := []string{
		"net/http", "database/sql", "modernc.org/sqlite", "github.com/jackc/pgx",
		"github.com/redis/", "github.com/prometheus/",
	}
	for _, pkg := range []string{"token", "session", "revocation", "authn", "password", "throttle", "store", "config", "keys", "accesstoken", "oauth", "protocol", "event", "tokenstate", "authflow", "account", "cluster", "forwardauth", "internal/clocktest", "store/sqlrow", "store/sqlmigrate", "store/readiness", "probe", "mfa", "replay", "audit", "geoip", "detect", "origin"} {
		out, err := exec.Command("go", "list", "-deps", mod+pkg).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", pkg, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, f := range forbidden {
				if dep == f || strings.HasPrefix(dep, f) && strings.HasSuffix(f, "/") {
					t.Errorf("%s depends on %s", pkg, dep)
				}
			}
		}
	}
	// passkey wraps github.com/go-webauthn/webauthn, whose packages import
	// net/http for request-parsing helpers passkey never calls: net/http
	// may come in through them, never through passkey's own imports.
	for _, pkg := range []string{"passkey"} {
		own, err := exec.Command("go", "list", "-f", `{{join .Imports " "}}`, mod+pkg).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", pkg, err)
		}
		if strings.Contains(" "+string(own)+" ", " net/http ") {
			t.Errorf("%s imports net/http", pkg)
		}
		out, err := exec.Command("go", "list", "-deps", mod+pkg).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", pkg, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, f := range forbidden[1:] {
				if dep == f || strings.HasPrefix(dep, f) && strings.HasSuffix(f, "/") {
					t.Errorf("%s depends on %s", pkg, dep)
				}
			}
		}
	}
}
