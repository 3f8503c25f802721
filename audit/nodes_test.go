package audit_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/tessera-auth/tessera/audit"
	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/store/postgres"
)

// TestTwoNodesOneChain: two nodes (two connection pools, two writers) on
// one PostgreSQL database write at once; the chain they make verifies and
// holds every record of both.
func TestTwoNodesOneChain(t *testing.T) {
	ctx := context.Background()
	d := postgresDB(t)
	other, err := postgres.Open(ctx, d.url)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	c := testChain(t)
	const per = 300
	var wg sync.WaitGroup
	for i, st := range []audit.Appender{d.st, other} {
		w := audit.NewWriter(st, c, audit.Config{Node: fmt.Sprintf("node-%d", i), Batch: 16, CheckpointEvery: 50})
		wctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { w.Run(wctx); close(done) }()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { cancel(); <-done }()
			for j := range per {
				w.Publish(ctx, event.Event{Kind: event.AdminAction, At: t0, Actor: event.ActorAdminAPI, Action: event.ActionSessionRevoke, SessionID: fmt.Sprintf("n%d-%d", i, j)})
			}
			if err := w.Flush(ctx); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	rep, err := audit.Verify(ctx, d.st, c, nil)
	if err != nil || !rep.OK() || rep.Records != 2*per || rep.Checkpoints == 0 {
		t.Fatalf("verify: %+v, %v", rep, err)
	}
}
