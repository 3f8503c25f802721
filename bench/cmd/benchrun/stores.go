package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/tessera-auth/tessera/bench"
	"github.com/tessera-auth/tessera/oauth"
	"github.com/tessera-auth/tessera/session"
)

// node is one fixture served over loopback, with what the store
// comparisons present to it: a confidential client (rs) for
// client_credentials and introspection, a live user's JWT and opaque
// access tokens, and one refresh chain per connection.
type node struct {
	name        string
	f           *bench.Fixture
	srv         *httptest.Server
	rsID, rsKey string
	jwt, opaque string
	chains      []chan string
}

func newNode(name, pgURL string, conns int) (*node, error) {
	f, err := bench.NewFixture(bench.Options{Users: conns, Postgres: pgURL})
	if err != nil {
		return nil, err
	}
	n := &node{name: name, f: f, srv: httptest.NewServer(f.Server.Public())}
	ctx := context.Background()
	c, secret, err := f.OAuth.RegisterClient(ctx, oauth.ClientSpec{Name: "rs", Scopes: []string{"read"}, Introspect: true})
	if err != nil {
		n.close()
		return nil, err
	}
	n.rsID, n.rsKey = c.ID, secret
	spa, _, err := f.OAuth.RegisterClient(ctx, oauth.ClientSpec{Name: "spa", Public: true, Grants: []string{oauth.GrantRefreshToken}, Scopes: []string{"read"}, TokenFormat: oauth.FormatOpaque, FirstParty: true})
	if err != nil {
		n.close()
		return nil, err
	}
	n.chains = make([]chan string, conns)
	for i := range n.chains {
		at, rt, err := f.LoginTokens(n.srv.URL, i)
		if err != nil {
			n.close()
			return nil, err
		}
		if i == 0 {
			n.jwt = at
		}
		n.chains[i] = make(chan string, 1)
		n.chains[i] <- rt
	}
	// An opaque access token of a live session, as the JWT is: both
	// introspections then also check the session.
	sessTok, err := f.LoginCookie(n.srv.URL)
	if err != nil {
		n.close()
		return nil, err
	}
	sess, err := f.Sessions.Validate(ctx, sessTok, session.Use{})
	if err != nil {
		n.close()
		return nil, err
	}
	toks, err := f.OAuth.IssueForSession(ctx, oauth.SessionGrant{SessionID: sess.ID, UserID: sess.UserID, AuthTime: sess.AuthTime, ClientID: spa.ID, Scope: "read", TokenFormat: oauth.FormatOpaque}, sess.ExpiresAt)
	if err != nil {
		n.close()
		return nil, err
	}
	n.opaque = toks.AccessToken
	return n, nil
}

func (n *node) close() {
	n.srv.Close()
	n.f.Close()
}

func (n *node) introspect(tok string) bench.NewRequest {
	body := "token=" + tok
	return func(*rand.Rand) *http.Request {
		req, _ := http.NewRequest("POST", n.srv.URL+"/oauth2/introspect", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(n.rsID, n.rsKey)
		return req
	}
}

func (n *node) clientCredentials() bench.NewRequest {
	return func(*rand.Rand) *http.Request {
		req, _ := http.NewRequest("POST", n.srv.URL+"/oauth2/token", strings.NewReader("grant_type=client_credentials"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(n.rsID, n.rsKey)
		return req
	}
}

// refresh rotates worker's chain once (POST /oauth2/token, refresh_token).
func (n *node) refresh(worker int) bench.Do {
	ch := n.chains[worker]
	return func(client *http.Client) error {
		rt := <-ch
		req, _ := http.NewRequest("POST", n.srv.URL+"/oauth2/token", strings.NewReader("grant_type=refresh_token&refresh_token="+rt))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		res, err := client.Do(req)
		if err != nil {
			ch <- rt
			return err
		}
		var body struct {
			RefreshToken string `json:"refresh_token"`
		}
		err = json.NewDecoder(res.Body).Decode(&body)
		res.Body.Close()
		if err != nil || res.StatusCode != 200 || body.RefreshToken == "" {
			ch <- rt
			return fmt.Errorf("refresh: %d %v", res.StatusCode, err)
		}
		ch <- body.RefreshToken
		return nil
	}
}

// checkActive fails unless introspecting tok on n answers active.
func (n *node) checkActive(tok string) error {
	answer, err := bench.Fetch(n.introspect(tok)(nil))
	if err != nil || !strings.Contains(string(answer), `"active":true`) {
		return fmt.Errorf("introspect: %v %s", err, answer)
	}
	return nil
}

// opaqueVsJWT compares introspecting an opaque access token (candidate)
// with introspecting a JWT (baseline) on the same node, interleaved.
func opaqueVsJWT(n *node, rounds int, d, slice time.Duration, conns int) bool {
	for _, tok := range []string{n.jwt, n.opaque} {
		if err := n.checkActive(tok); err != nil {
			fmt.Println(n.name, err)
			return false
		}
	}
	mk := []bench.NewRequest{n.introspect(n.jwt), n.introspect(n.opaque)}
	clients := []*http.Client{bench.NewClient(conns), bench.NewClient(conns)}
	defer func() {
		for _, c := range clients {
			c.CloseIdleConnections()
		}
	}()
	ratios, base, cand, err := bench.CompareInterleaved(context.Background(), rounds, d, slice, func(w int, d time.Duration) bench.Result {
		return bench.ClosedOn(context.Background(), clients[w], conns, d, mk[w])
	})
	if err != nil {
		fmt.Println("introspect:", err)
		return false
	}
	reportAs("POST /oauth2/introspect on "+n.name+": opaque access token vs JWT", "JWT", "opaque", ratios, base, cand)
	return true
}

// storesVs runs refresh, client_credentials and introspection on a
// PostgreSQL node (candidate) and a SQLite node (baseline) in the same
// run, alternating rounds, and introspection of opaque access tokens vs
// JWTs on each.
func storesVs(pgURL string, rounds int, d, slice time.Duration, conns int) bool {
	fmt.Println("\nstores: preparing SQLite and PostgreSQL nodes…")
	lite, err := newNode("sqlite", "", conns)
	if err != nil {
		fmt.Println("sqlite node:", err)
		return false
	}
	defer lite.close()
	pg, err := newNode("postgres", pgURL, conns)
	if err != nil {
		fmt.Println("postgres node:", err)
		return false
	}
	defer pg.close()
	nodes := []*node{lite, pg}
	ok := true
	compare := func(name string, run func(n *node) bench.Result) {
		ratios, base, cand, err := bench.Compare(context.Background(), rounds, func(w int) bench.Result { return run(nodes[w]) })
		if err != nil {
			fmt.Println(name+":", err)
			ok = false
			return
		}
		reportAs(name+": PostgreSQL vs SQLite", "sqlite", "postgres", ratios, base, cand)
	}
	compare("POST /oauth2/token grant_type=refresh_token (durable rotation)", func(n *node) bench.Result {
		return bench.ClosedWith(context.Background(), conns, d, n.refresh)
	})
	compare("POST /oauth2/token grant_type=client_credentials (ES256 JWT)", func(n *node) bench.Result {
		return bench.Closed(context.Background(), conns, d, n.clientCredentials())
	})
	compare("POST /oauth2/introspect (JWT access token)", func(n *node) bench.Result {
		return bench.Closed(context.Background(), conns, d, n.introspect(n.jwt))
	})
	compare("POST /oauth2/introspect (opaque access token)", func(n *node) bench.Result {
		return bench.Closed(context.Background(), conns, d, n.introspect(n.opaque))
	})
	for _, n := range nodes {
		ok = opaqueVsJWT(n, rounds, d, slice, conns) && ok
	}
	return ok
}
