package authn

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/password"
	"github.com/tessera-auth/tessera/store/sqlite/sqlitetest"
)

// barrierHasher holds every Verify until release is closed, so a test can
// have many logins in flight at once without timing.
type barrierHasher struct {
	*password.Hasher
	entered chan struct{}
	release chan struct{}
}

func (b *barrierHasher) Verify(ctx context.Context, enc, pw string) (bool, bool, error) {
	b.entered <- struct{}{}
	<-b.release
	return b.Hasher.Verify(ctx, enc, pw)
}

// TestConcurrentCorrectLoginsFromOneAddress: more correct logins in flight
// at once from one address than its failure budgets (an office behind
// NAT) are all accepted: logins not known to fail must not use the budget.
func TestConcurrentCorrectLoginsFromOneAddress(t *testing.T) {
	const n = 30 // > PerIPBurst (20) and > PerAccountIPBurst (5)
	st := sqlitetest.Open(t)
	h, err := password.NewHasher(cheap, 2, 0)
	if err != nil {
		t.Fatal(err)
	}
	bh := &barrierHasher{Hasher: h, entered: make(chan struct{}), release: make(chan struct{})}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a := New(st, bh, password.DefaultPolicy(), Limits{
		PerIPBurst: 20, PerIPRefill: time.Minute,
		PerAccountIPBurst: 5, PerAccountIPRefill: time.Minute,
		PerAccountBurst: 50, PerAccountRefill: time.Minute,
	}, func() time.Time { return now }, nil, nil)
	ctx := context.Background()
	// Created with the plain hasher: CreateUser hashes, it does not verify.
	if _, err := a.CreateUser(ctx, "alice", pw); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := a.Login(ctx, "alice", pw, ip)
			errs <- err
		}()
	}
	// Wait until every login is either hashing (all held at once) or has
	// already been answered (refused before hashing: the bug).
	inFlight, answered := 0, 0
	for inFlight+answered < n {
		select {
		case <-bh.entered:
			inFlight++
		case err := <-errs:
			answered++
			t.Errorf("a correct login refused while %d others were in flight: %v", inFlight, err)
		}
	}
	close(bh.release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("correct login: %v", err)
		}
	}
}

// TestConcurrentFailuresStillCount: wrong passwords in flight together all
// count once they fail, so the address is throttled afterwards.
func TestConcurrentFailuresStillCount(t *testing.T) {
	a, _, _, _ := newAuth(t, cheap) // PerAccountIPBurst 3
	ctx := context.Background()
	if _, err := a.CreateUser(ctx, "alice", pw); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() { defer wg.Done(); a.Login(ctx, "alice", "wrong password", ip) }()
	}
	wg.Wait()
	var te *ThrottledError
	if _, err := a.Login(ctx, "alice", pw, ip); err == nil || !asThrottled(err, &te) {
		t.Fatalf("after 3 concurrent failures: %v, want throttled", err)
	}
}

func asThrottled(err error, te **ThrottledError) bool {
	e, ok := err.(*ThrottledError)
	*te = e
	return ok
}
