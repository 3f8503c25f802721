package authn

import (
	"sync"
	"time"
)

// knownClients remembers, per account, the client addresses (throttle IP
// keys) that recently logged in with the right password. Only a correct
// password puts an address here, so an attacker cannot. Memory is bounded:
// a few addresses per account, a bounded number of accounts, entries expire.
// The state is per process and starts empty.
type knownClients struct {
	now func() time.Time
	ttl time.Duration

	mu   sync.Mutex
	accs map[string][]knownAddr
}

type knownAddr struct {
	key  string
	seen time.Time
}

const (
	knownPerAccount = 8
	knownAccounts   = 100000
)

func newKnownClients(now func() time.Time) *knownClients {
	return &knownClients{now: now, ttl: 30 * 24 * time.Hour, accs: map[string][]knownAddr{}}
}

func (k *knownClients) has(acct, ipKey string) bool {
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

func (k *knownClients) add(acct, ipKey string) {
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
	if len(list) >= knownPerAccount {
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
