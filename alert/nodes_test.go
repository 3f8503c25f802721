package alert_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/alert"
	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/store/postgres"
	"github.com/tessera-auth/tessera/store/postgres/pgtest"
	"github.com/tessera-auth/tessera/store/sqlite"
	"github.com/tessera-auth/tessera/webhook"
)

// TestNodesShareTheOutbox: two nodes' dispatchers, each with its own
// connection to one store, drain a shared outbox together; under normal
// operation (no node dies) every alert reaches the receiver exactly once.
// SQLite (two handles on one file) and PostgreSQL.
func TestNodesShareTheOutbox(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			var a, b store.Store
			if backend == "sqlite" {
				path := filepath.Join(t.TempDir(), "shared.db")
				s1, err := sqlite.Open(context.Background(), path, sqlite.Options{})
				if err != nil {
					t.Fatal(err)
				}
				s2, err := sqlite.OpenExisting(context.Background(), path, sqlite.Options{})
				if err != nil {
					t.Fatal(err)
				}
				a, b = s1, s2
			} else {
				u := pgtest.URL(t)
				m, err := postgres.NewMigrator(context.Background(), u)
				if err != nil {
					t.Fatal(err)
				}
				_, err = m.Migrate(context.Background())
				m.Close()
				if err != nil {
					t.Fatal(err)
				}
				s1, err := postgres.Open(context.Background(), u)
				if err != nil {
					t.Fatal(err)
				}
				s2, err := postgres.Open(context.Background(), u)
				if err != nil {
					t.Fatal(err)
				}
				a, b = s1, s2
			}
			defer a.Close()
			defer b.Close()
			var mu sync.Mutex
			got := map[string]int{}
			rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				got[r.Header.Get("webhook-id")]++
				mu.Unlock()
				w.WriteHeader(200)
			}))
			defer rcv.Close()
			_, key := newSecret(t)
			hooks := []alert.Webhook{{Name: "siem", URL: rcv.URL, Secret: key, Timeout: 5 * time.Second}}
			const alerts = 60
			svc := alert.NewService(alert.Config{Store: a, Webhooks: hooks})
			for range alerts {
				if _, err := svc.Raise(context.Background(), theftAlert()); err != nil {
					t.Fatal(err)
				}
			}
			var wg sync.WaitGroup
			for i, st := range []store.Store{a, b} {
				d := alert.NewDispatcher(alert.DispatchConfig{Outbox: st, Sender: webhook.New(), Webhooks: hooks, Holder: []string{"n1", "n2"}[i], Batch: 4})
				wg.Go(func() {
					for {
						n, err := d.Tick(context.Background())
						if err != nil {
							t.Error(err)
							return
						}
						if n == 0 {
							return
						}
					}
				})
			}
			wg.Wait()
			mu.Lock()
			defer mu.Unlock()
			if len(got) != alerts {
				t.Fatalf("%d of %d alerts delivered", len(got), alerts)
			}
			for id, n := range got {
				if n != 1 {
					t.Errorf("%s sent %d times", id, n)
				}
			}
			if n, _ := a.CountPendingDeliveries(context.Background()); n != 0 {
				t.Fatalf("%d pending", n)
			}
		})
	}
}
