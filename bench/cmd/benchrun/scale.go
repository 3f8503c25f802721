package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tessera-auth/tessera/bench"
	"github.com/tessera-auth/tessera/session"
)

// scale loads n sessions (for each n in sizes) into SQLite and into
// PostgreSQL, and reports per store: bytes per session, whoami latency on
// sample sessions the node has never seen (cold: a store read) and again
// (warm: the cache), and heap bytes per cached session over up to maxCached
// sessions validated.
func scale(pgURL string, stores []string, sizes []int, sample, maxCached int) bool {
	for _, n := range sizes {
		for _, kind := range stores {
			if kind == "postgres" && pgURL == "" {
				continue
			}
			if err := scaleOne(kind, pgURL, n, sample, maxCached); err != nil {
				fmt.Printf("scale %s %d: %v\n", kind, n, err)
				return false
			}
		}
	}
	return true
}

func scaleOne(kind, pgURL string, n, sample, maxCached int) error {
	opt := bench.Options{Sessions: n, Users: 100, Bulk: true}
	if kind == "postgres" {
		opt.Postgres = pgURL
	}
	start := time.Now()
	f, err := bench.NewFixture(opt)
	if err != nil {
		return err
	}
	defer f.Close()
	load := time.Since(start)
	ctx := context.Background()
	var bytes int64
	if kind == "postgres" {
		conn, err := pgx.Connect(ctx, f.StoreURL)
		if err != nil {
			return err
		}
		err = conn.QueryRow(ctx, "SELECT pg_total_relation_size('sessions')").Scan(&bytes)
		conn.Close(ctx)
		if err != nil {
			return err
		}
	} else {
		for _, suffix := range []string{"", "-wal"} {
			if fi, err := os.Stat(filepath.Join(f.Dir, "tessera.db"+suffix)); err == nil {
				bytes += fi.Size()
			}
		}
	}
	srv := httptest.NewServer(f.Server.Public())
	defer srv.Close()
	client := bench.NewClient(1)
	rng := rand.New(rand.NewPCG(1, uint64(n)))
	picks := make([]string, sample)
	for i := range picks {
		picks[i] = f.Tokens[rng.IntN(len(f.Tokens))]
	}
	lat := func() ([]time.Duration, error) {
		out := make([]time.Duration, 0, len(picks))
		for _, tok := range picks {
			req, _ := http.NewRequest("GET", srv.URL+"/v1/session", nil)
			req.Header.Set("Cookie", "__Host-tessera_session="+tok)
			t0 := time.Now()
			res, err := client.Do(req)
			if err != nil {
				return nil, err
			}
			res.Body.Close()
			out = append(out, time.Since(t0))
			if res.StatusCode != 200 {
				return nil, fmt.Errorf("whoami: %d", res.StatusCode)
			}
		}
		sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
		return out, nil
	}
	cold, err := lat()
	if err != nil {
		return err
	}
	warm, err := lat()
	if err != nil {
		return err
	}
	// Heap per cached session: validate m more sessions (the node's cache
	// holds them), with the GC settled before and after.
	m := min(maxCached, len(f.Tokens))
	// Grow the store's connection pool (as many connections as the
	// workers below use) before the first reading: connections and their
	// buffers are not per-session memory.
	const workers = 8
	var grow sync.WaitGroup
	for w := range workers {
		grow.Add(1)
		go func() {
			defer grow.Done()
			for i := len(f.Tokens) - 1 - w; i >= max(m, len(f.Tokens)-64); i -= workers {
				f.Sessions.Validate(ctx, f.Tokens[i], session.Use{})
			}
		}()
	}
	grow.Wait()
	var before, after runtime.MemStats
	if err := f.Sessions.FlushTouches(ctx); err != nil {
		return err
	}
	runtime.GC()
	runtime.ReadMemStats(&before)
	cachedBefore := f.Sessions.CacheLen()
	var wg sync.WaitGroup
	var firstErr error
	var mu sync.Mutex
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < m; i += workers {
				if _, err := f.Sessions.Validate(ctx, f.Tokens[i], session.Use{}); err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	// Last-seen times queued for the store (sessions loaded more than a
	// touch interval ago) are not the cache: write them out first.
	if err := f.Sessions.FlushTouches(ctx); err != nil {
		return err
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	added := f.Sessions.CacheLen() - cachedBefore
	perCached := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(max(added, 1))
	q := func(d []time.Duration, p float64) string {
		return fmt.Sprintf("%.2f", float64(d[min(len(d)-1, int(float64(len(d))*p))].Microseconds())/1000)
	}
	fmt.Printf("scale %-8s n=%-8d load %-6v %6.0f B/session in store | whoami ms cold p50 %s p99 %s, warm p50 %s p99 %s (%d sampled) | heap %.0f B per cached session (%d cached)\n",
		kind, n, load.Round(time.Second), float64(bytes)/float64(n), q(cold, .5), q(cold, .99), q(warm, .5), q(warm, .99), len(picks), perCached, added)
	return nil
}
