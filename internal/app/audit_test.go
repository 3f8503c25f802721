package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/audit"
	"github.com/tessera-auth/tessera/internal/app"
	"github.com/tessera-auth/tessera/oauth"
	"github.com/tessera-auth/tessera/store"
)

// from is do with the request's peer address and user agent set.
func from(h http.Handler, method, path, body, auth, addr, ua string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.RemoteAddr, req.Header["User-Agent"] = addr, []string{ua}
	if strings.HasPrefix(body, "{") {
		req.Header.Set("Content-Type", "application/json")
	} else if body != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

var credentialShapes = regexp.MustCompile(`ts[sramcx]_[A-Za-z0-9]|eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.`)

// TestAuditEndToEnd drives a server through logins, validations, refresh,
// reuse, introspection, revocation and admin actions, then reads its
// audit log: the events are there, validations are summarised, the chain
// verifies, the admin API filters and pages, and no record holds a
// credential.
func TestAuditEndToEnd(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	c := testConfig(t)
	c.Policy.Tokens.RefreshGrace = 0
	a, err := app.New(ctx, c, app.Options{Access: app.Migrate, AdminToken: adminToken})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	done := make(chan error)
	go func() { done <- a.Run(ctx) }()
	defer func() { cancel(); <-done }()

	const pw = "correct horse battery staple"
	pub, adm, admin := a.Public(), a.Admin(), "Bearer "+adminToken
	if w := do(adm, "POST", "/admin/v1/users", `{"username":"alice","password":"`+pw+`"}`, admin); w.Code != 201 {
		t.Fatalf("create user: %d %s", w.Code, w.Body)
	}
	cl, _, err := a.OAuth.RegisterClient(ctx, oauth.ClientSpec{Name: "app", Grants: []string{oauth.GrantRefreshToken}, Public: true, FirstParty: true})
	if err != nil {
		t.Fatal(err)
	}
	rs, rsSecret, err := a.OAuth.RegisterClient(ctx, oauth.ClientSpec{Name: "rs", Grants: []string{oauth.GrantClientCredentials}, Introspect: true})
	if err != nil {
		t.Fatal(err)
	}
	var secrets []string
	keep := func(s string) string { secrets = append(secrets, s); return s }
	keep(pw)
	keep(rsSecret)
	from(pub, "POST", "/v1/login", `{"username":"alice","password":"wrong password!"}`, "", "198.51.100.9:1", "curl/8")
	w := from(pub, "POST", "/v1/login", `{"username":"alice","password":"`+pw+`","delivery":"token","client_id":"`+cl.ID+`"}`, "", "192.0.2.10:1", "Firefox/140")
	if w.Code != 200 {
		t.Fatalf("login: %d %s", w.Code, w.Body)
	}
	access := keep(between(w.Body.String(), `"access_token":"`, `"`))
	refresh := keep(between(w.Body.String(), `"refresh_token":"`, `"`))
	// Five uses from one network and browser, one from another network.
	for i := range 5 {
		if w := from(pub, "GET", "/v1/session", "", "Bearer "+access, "192.0.2."+string(rune('1'+i))+":1", "Firefox/140"); w.Code != 200 {
			t.Fatalf("whoami: %d %s", w.Code, w.Body)
		}
	}
	from(pub, "GET", "/v1/session", "", "Bearer "+access, "203.0.113.5:1", "Firefox/140")
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}, "client_id": {cl.ID}}.Encode()
	w = from(pub, "POST", "/oauth2/token", form, "", "192.0.2.10:1", "Firefox/140")
	keep(between(w.Body.String(), `"refresh_token":"`, `"`))
	keep(between(w.Body.String(), `"access_token":"`, `"`))
	req := httptest.NewRequest("POST", "/oauth2/introspect", strings.NewReader(url.Values{"token": {access}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(rs.ID, rsSecret)
	pub.ServeHTTP(httptest.NewRecorder(), req)
	from(pub, "POST", "/oauth2/token", form, "", "203.0.113.66:1", "evil/1") // reuse
	from(pub, "GET", "/v1/session", "", "Bearer tss_notatokenatall", "203.0.113.66:1", "evil/1")
	if w := do(adm, "POST", "/admin/v1/keys/rotate", "", admin); w.Code >= 300 && w.Code != 409 {
		t.Logf("rotate: %d %s", w.Code, w.Body)
	}

	fctx, fcancel := context.WithTimeout(ctx, 10*time.Second)
	defer fcancel()
	if err := a.Audit.Flush(fctx); err != nil {
		t.Fatal(err)
	}
	recs, err := a.Store.AuditRecords(ctx, store.AuditQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, r := range recs {
		count[r.Event]++
		line := strings.Join([]string{r.Event, r.Actor, r.UserID, r.SessionID, r.ClientID, r.IP, r.UserAgent, r.Outcome, string(r.Details), r.Node}, " ")
		if m := credentialShapes.FindString(line); m != "" {
			t.Errorf("record %d holds something shaped like a credential (%q): %s", r.Seq, m, line)
		}
		for _, s := range secrets {
			if s != "" && strings.Contains(line, s) {
				t.Errorf("record %d holds a raw secret: %s", r.Seq, line)
			}
		}
	}
	for _, ev := range []string{"admin_action", "login_failed", "login_succeeded", "session_created", "token_issued", "refresh_rotated", "refresh_reused", "session_revoked", "introspected"} {
		if count[ev] == 0 {
			t.Errorf("no %s record; have %v", ev, count)
		}
	}
	// Six accepted uses from two networks: two summary records, plus one
	// for the introspection (its validation takes the introspecting
	// client's request context: its address and user agent), and one for
	// the refused token.
	var ok, refused int
	for _, r := range recs {
		if r.Event == "session_validated" {
			if r.Outcome == audit.OutcomeSuccess && r.IP != "" {
				ok++
			} else {
				refused++
			}
		}
	}
	if ok != 3 || refused < 1 {
		t.Errorf("session_validated: %d accepted and %d refused records, want 3 and ≥ 1 (first use per network and device)", ok, refused)
	}
	rep, err := audit.Verify(ctx, a.Store, a.AuditChain, nil)
	if err != nil || !rep.OK() || rep.Records != int64(len(recs)) {
		t.Fatalf("verify: %+v, %v", rep, err)
	}

	// The admin API: newest first, filtered, paged by cursor.
	var page struct {
		Records []struct {
			Seq    int64  `json:"seq"`
			Event  string `json:"event"`
			UserID string `json:"user_id"`
		} `json:"records"`
		NextCursor string `json:"next_cursor"`
	}
	user := recs[len(recs)-1].UserID
	for _, r := range recs {
		if r.Event == "login_succeeded" {
			user = r.UserID
		}
	}
	var seen []int64
	next := "/admin/v1/audit?limit=2&user_id=" + user
	for next != "" {
		w := do(adm, "GET", next, "", admin)
		if w.Code != 200 {
			t.Fatalf("GET %s: %d %s", next, w.Code, w.Body)
		}
		page.NextCursor, page.Records = "", nil
		if err := json.Unmarshal(w.Body.Bytes(), &page); err != nil {
			t.Fatal(err)
		}
		for _, r := range page.Records {
			if r.UserID != user {
				t.Fatalf("filter by user returned %+v", r)
			}
			if len(seen) > 0 && r.Seq >= seen[len(seen)-1] {
				t.Fatalf("not newest first: %d after %d", r.Seq, seen[len(seen)-1])
			}
			seen = append(seen, r.Seq)
		}
		next = ""
		if page.NextCursor != "" {
			next = "/admin/v1/audit?limit=2&user_id=" + user + "&cursor=" + page.NextCursor
		}
	}
	want := 0
	for _, r := range recs {
		if r.UserID == user {
			want++
		}
	}
	if len(seen) != want || want < 5 {
		t.Errorf("paged through %d of the user's %d records", len(seen), want)
	}
	if w := do(adm, "GET", "/admin/v1/audit?event=admin_action&limit=1000", "", admin); !strings.Contains(w.Body.String(), `"event":"admin_action"`) || strings.Contains(w.Body.String(), `"event":"login`) {
		t.Errorf("filter by event: %s", w.Body)
	}
	// Text PostgreSQL refuses to compare (a NUL, invalid UTF-8) or longer
	// than any id: the caller's mistake (400), not an outage (503).
	for _, bad := range []string{"/admin/v1/audit?since=yesterday", "/admin/v1/audit?limit=1001", "/admin/v1/audit?cursor=x",
		"/admin/v1/audit?user_id=%00", "/admin/v1/audit?event=%ff", "/admin/v1/audit?session_id=" + strings.Repeat("s", 300)} {
		w := do(adm, "GET", bad, "", admin)
		if w.Code != 400 || !strings.HasPrefix(w.Header().Get("Content-Type"), "application/problem+json") {
			t.Errorf("GET %s: %d %s %s", bad, w.Code, w.Header().Get("Content-Type"), w.Body)
		}
	}
	if w := do(adm, "GET", "/admin/v1/audit", "", ""); w.Code != 401 {
		t.Errorf("without the admin token: %d", w.Code)
	}
	m := do(adm, "GET", "/metrics", "", "").Body.String()
	if !strings.Contains(m, "tessera_audit_records_written_total") || !strings.Contains(m, "tessera_audit_records_dropped_total 0") {
		t.Errorf("audit metrics:\n%s", grep(m, "audit"))
	}
}
