package app_test

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/tessera-auth/tessera/internal/app"
	"github.com/tessera-auth/tessera/oauth"
)

// TestOperatorMetrics: the build, tokens issued, introspections, the feed's
// staleness, the signing key's age and the embedded store's fsyncs reach
// /metrics on the admin listener.
func TestOperatorMetrics(t *testing.T) {
	ctx := context.Background()
	c := testConfig(t)
	a, err := app.New(ctx, c, app.Options{Access: app.Migrate, AdminToken: adminToken})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, err := a.Auth.CreateUser(ctx, "alice", "correct horse battery staple"); err != nil {
		t.Fatal(err)
	}
	pub, _, err := a.OAuth.RegisterClient(ctx, oauth.ClientSpec{Name: "app", Grants: []string{oauth.GrantRefreshToken}, Public: true, FirstParty: true})
	if err != nil {
		t.Fatal(err)
	}
	rs, secret, err := a.OAuth.RegisterClient(ctx, oauth.ClientSpec{Name: "api", Introspect: true})
	if err != nil {
		t.Fatal(err)
	}
	w := do(a.Public(), "POST", "/v1/login", `{"username":"alice","password":"correct horse battery staple","delivery":"token","client_id":"`+pub.ID+`"}`, "")
	if w.Code != 200 {
		t.Fatalf("login: %d %s", w.Code, w.Body)
	}
	access := between(w.Body.String(), `"access_token":"`, `"`)
	form := url.Values{"token": {access}, "client_id": {rs.ID}, "client_secret": {secret}}.Encode()
	if w := do(a.Public(), "POST", "/oauth2/introspect", form, ""); w.Code != 200 || !strings.Contains(w.Body.String(), `"active":true`) {
		t.Fatalf("introspect: %d %s", w.Code, w.Body)
	}
	cc := url.Values{"grant_type": {"client_credentials"}, "client_id": {rs.ID}, "client_secret": {secret}}.Encode()
	if w := do(a.Public(), "POST", "/oauth2/token", cc, ""); w.Code != 200 {
		t.Fatalf("client_credentials: %d %s", w.Code, w.Body)
	}
	m := do(a.Admin(), "GET", "/metrics", "", "").Body.String()
	for _, want := range []string{
		`tessera_tokens_issued_total{format="jwt",grant="login",token="access"} 1`,
		`tessera_tokens_issued_total{format="opaque",grant="login",token="refresh"} 1`,
		`tessera_tokens_issued_total{format="jwt",grant="client_credentials",token="access"} 1`,
		`tessera_introspections_total{outcome="active"} 1`,
		`tessera_build_info{goversion="go`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s:\n%s", want, grep(m, strings.SplitN(want, "{", 2)[0]))
		}
	}
	for _, name := range []string{"tessera_revocation_feed_staleness_seconds", "tessera_signing_key_age_seconds", "tessera_sqlite_fsync_duration_seconds_count"} {
		if v := value(m, name); v <= 0 {
			t.Errorf("%s = %v, want > 0:\n%s", name, v, grep(m, name))
		}
	}
}

// value is the sample of the unlabelled metric name; -1 if absent.
func value(metrics, name string) float64 {
	for _, l := range strings.Split(metrics, "\n") {
		if v, ok := strings.CutPrefix(l, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err == nil {
				return f
			}
		}
	}
	return -1
}

// TestMetricsApart: metrics_listen other than admin takes /metrics off the
// admin listener (serve then serves Metrics.Handler on its own listener,
// or nowhere).
func TestMetricsApart(t *testing.T) {
	for _, where := range []string{"off", "127.0.0.1:0"} {
		c := testConfig(t)
		c.MetricsListen = where
		a, err := app.New(context.Background(), c, app.Options{Access: app.Migrate, AdminToken: adminToken})
		if err != nil {
			t.Fatal(err)
		}
		w := do(a.Admin(), "GET", "/metrics", "", "")
		a.Close()
		if w.Code == 200 || strings.Contains(w.Body.String(), "tessera_") {
			t.Errorf("metrics_listen %s: the admin listener still serves /metrics (%d)", where, w.Code)
		}
	}
}
