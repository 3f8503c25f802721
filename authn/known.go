package authn

import (
	"context"
	"sync"
	"time"
)

// KnownAddresses is the list, per account, of the client addresses
// (throttle IP keys) that recently logged in with the right password: an
// address on it skips the account-wide throttle (see Authenticator.Login).
// Only a correct password puts an address there, so an attacker cannot.
// *MemoryKnown keeps the list in this process; a shared one (Redis) keeps
// it for every node. Implementations must be safe for concurrent use and
// answer false when they cannot tell.
type KnownAddresses interface {
	Known(ctx context.Context, account, ipKey string) bool
	Remember(ctx context.Context, account, ipKey string)
}

// KnownTTL is how long a login from an address keeps it known.
const KnownTTL = 30 * 24 * time.Hour

// KnownPerAccount is how many addresses each account remembers; the
// least recently seen is forgotten first.
const KnownPerAccount = 8

// MemoryKnown is KnownAddresses in this process's memory. Memory is
// bounded: KnownPerAccount addresses per account, a bounded number of
// accounts, entries expire after KnownTTL. The state starts empty.
type MemoryKnown struct {
	now func() time.Time
	ttl time.Duration

	mu   sync.Mutex
	accs map[string][]knownAddr
}

type knownAddr struct {
	key  string
	seen time.Time
}

const knownAccounts = 100000

// NewMemoryKnown returns an empty list; now is the clock (nil: time.Now).
func NewMemoryKnown(now func() time.Time) *MemoryKnown {
	if now == nil {
		now = time.Now
	}
	return &MemoryKnown{now: now, ttl: KnownTTL, accs: map[string][]knownAddr{}}
}

// Known reports whether ipKey logged into account within KnownTTL.
func (k *MemoryKnown) Known(_ context.Context, acct, ipKey string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.now()
	for _, a := range k.accs[acct] {
		if a.key == ipKey && now.Sub(a.seen) < k.ttl {
			return true
		}
	}
	return false
}

// Remember records a successful login to account from ipKey.
func (k *MemoryKnown) Remember(_ context.Context, acct, ipKey string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.now()
	list := k.accs[acct]
	for i, a := range list {
		if a.key == ipKey {
			list[i].seen = now
			return
		}
	}
	if len(list) >= KnownPerAccount {
		oldest := 0
		for i := range list {
			if list[i].seen.Before(list[oldest].seen) {
				oldest = i
			}
		}
		list = append(list[:oldest], list[oldest+1:]...)
	}
	if _, ok := k.accs[acct]; !ok && len(k.accs) >= knownAccounts {
		for a := range k.accs { // drop an arbitrary account's memory
			delete(k.accs, a)
			break
		}
	}
	k.accs[acct] = append(list, knownAddr{ipKey, now})
}
