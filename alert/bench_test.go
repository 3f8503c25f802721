package alert_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/alert"
	"github.com/tessera-auth/tessera/store/sqlite/sqlitetest"
	"github.com/tessera-auth/tessera/webhook"
)

// BenchmarkRaise: one alert stored with its outbox row for one webhook
// (one SQLite transaction, fsync included).
func BenchmarkRaise(b *testing.B) {
	st := sqlitetest.Open(b)
	key, _ := alert.ParseSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	svc := alert.NewService(alert.Config{Store: st, Webhooks: []alert.Webhook{{Name: "siem", URL: "http://127.0.0.1:1", Secret: key, Timeout: time.Second}}})
	for b.Loop() {
		if _, err := svc.Raise(context.Background(), theftAlert()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDeliver: queued alerts delivered to a local receiver, 16 per
// claim, each attempt recorded.
func BenchmarkDeliver(b *testing.B) {
	st := sqlitetest.Open(b)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
	defer rcv.Close()
	key, _ := alert.ParseSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	hooks := []alert.Webhook{{Name: "siem", URL: rcv.URL, Secret: key, Timeout: 5 * time.Second}}
	svc := alert.NewService(alert.Config{Store: st, Webhooks: hooks})
	for range b.N {
		if _, err := svc.Raise(context.Background(), theftAlert()); err != nil {
			b.Fatal(err)
		}
	}
	d := alert.NewDispatcher(alert.DispatchConfig{Outbox: st, Sender: webhook.New(), Webhooks: hooks, Holder: "n1"})
	b.ResetTimer()
	sent := 0
	for sent < b.N {
		n, err := d.Tick(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		if n == 0 {
			b.Fatalf("%d of %d delivered, then nothing due", sent, b.N)
		}
		sent += n
	}
	b.ReportMetric(float64(sent)/b.Elapsed().Seconds(), "deliveries/s")
}
