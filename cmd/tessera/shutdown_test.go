package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/config"
	"github.com/tessera-auth/tessera/internal/app"
	"github.com/tessera-auth/tessera/oauth"
	"github.com/tessera-auth/tessera/protocol"
)

// TestShutdownAnswersLongPolls: a graceful shutdown answers an open
// revocation-feed long poll at once with a valid page. The poll waits
// 30 s and the shutdown allows 20 s: without the drain, the shutdown
// runs out of time and the poll is cut off.
func TestShutdownAnswersLongPolls(t *testing.T) {
	ctx := context.Background()
	c := config.Default()
	c.Data = filepath.Join(t.TempDir(), "data")
	a, err := app.New(ctx, c, app.Options{Access: app.Migrate, AdminToken: "tsx_shutdown-test-admin-token-0123456789"})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	cl, secret, err := a.OAuth.RegisterClient(ctx, oauth.ClientSpec{Name: "verifier", RevocationFeed: true})
	if err != nil {
		t.Fatal(err)
	}
	srv := newPublicServer(a, slog.New(slog.DiscardHandler))
	// Shutdown starts once the poll is in its handler: a request read but
	// not yet dispatched when the shutdown begins is dropped unanswered
	// (net/http), which is not what is tested here.
	entered := make(chan struct{})
	var once sync.Once
	inner := srv.Handler
	srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { close(entered) })
		inner.ServeHTTP(w, r)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)

	type answer struct {
		code int
		page protocol.FeedPage
		err  error
	}
	done := make(chan answer, 1)
	go func() {
		req, _ := http.NewRequest("GET", "http://"+ln.Addr().String()+"/v1/revocations?since=0&wait=30", nil)
		req.SetBasicAuth(cl.ID, secret)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- answer{err: err}
			return
		}
		defer res.Body.Close()
		var a answer
		a.code = res.StatusCode
		b, _ := io.ReadAll(res.Body)
		a.err = json.Unmarshal(b, &a.page)
		done <- a
	}()
	<-entered
	shutCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		t.Fatalf("shutdown: %v (held by the long poll)", err)
	}
	r := <-done
	if r.err != nil || r.code != 200 || r.page.Cursor != "0" || r.page.Revocations == nil {
		t.Fatalf("long poll answered %d %+v, %v; want 200 with an empty page at cursor 0", r.code, r.page, r.err)
	}
}
