package store

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
)

// ErrUnsupported means no backend registered for the URL's scheme. A
// backend registers itself when its package is imported, the way
// database/sql drivers do, so this package never imports a driver.
var ErrUnsupported = errors.New("store: backend not supported in this version")

// Backend opens one kind of store. Both functions receive the whole URL.
type Backend struct {
	// Open opens an existing store whose schema is this binary's latest.
	// It creates nothing: ErrNoDatabase if there is no store at url,
	// ErrSchemaOutdated or ErrSchemaNewer if its schema differs.
	Open func(ctx context.Context, url string) (Store, error)
	// Migrator opens url for schema work, creating an empty database if
	// the backend can and there is none.
	Migrator func(ctx context.Context, url string) (Migrator, error)
}

var (
	backendsMu sync.RWMutex
	backends   = map[string]Backend{}
)

// Register makes a backend available under scheme ("sqlite"). It panics if
// the scheme is registered twice or b lacks a function, as database/sql's
// Register does: both are programming errors found at start-up.
func Register(scheme string, b Backend) {
	backendsMu.Lock()
	defer backendsMu.Unlock()
	if b.Open == nil || b.Migrator == nil {
		panic("store: Register " + scheme + ": incomplete backend")
	}
	if _, dup := backends[scheme]; dup {
		panic("store: Register called twice for " + scheme)
	}
	backends[scheme] = b
}

// Schemes returns the registered schemes, sorted.
func Schemes() []string {
	backendsMu.RLock()
	defer backendsMu.RUnlock()
	s := make([]string, 0, len(backends))
	for k := range backends {
		s = append(s, k)
	}
	sort.Strings(s)
	return s
}

// Open opens the existing store at url ("sqlite:/path/tessera.db") with the
// backend registered for its scheme. It neither creates nor migrates:
// see OpenMigrator.
func Open(ctx context.Context, url string) (Store, error) {
	b, err := backend(url)
	if err != nil {
		return nil, err
	}
	return b.Open(ctx, url)
}

// OpenMigrator opens url's schema for inspection and migration.
func OpenMigrator(ctx context.Context, url string) (Migrator, error) {
	b, err := backend(url)
	if err != nil {
		return nil, err
	}
	return b.Migrator(ctx, url)
}

func backend(url string) (Backend, error) {
	scheme, _, ok := strings.Cut(url, ":")
	if !ok || scheme == "" {
		return Backend{}, fmt.Errorf("store URL %q: want scheme:…, such as sqlite:PATH", url)
	}
	backendsMu.RLock()
	b, ok := backends[strings.ToLower(scheme)]
	backendsMu.RUnlock()
	if !ok {
		return Backend{}, fmt.Errorf("%w: %q (this build opens: %s)", ErrUnsupported, scheme, strings.Join(Schemes(), ", "))
	}
	return b, nil
}
