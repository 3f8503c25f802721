package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/tessera-auth/tessera/bench"
	"github.com/tessera-auth/tessera/internal/clustertest"
	"github.com/tessera-auth/tessera/redisstate/redistest"
	"github.com/tessera-auth/tessera/store/postgres/pgtest"
)

// propMode is one way nodes learn of each other's revocations: what every
// node of its cluster gets.
type propMode struct {
	name string
	// setup prepares the mode for a cluster on store (a fresh schema on
	// server, the bench's PostgreSQL) and returns the nodes' extra
	// settings; cleanup runs when the benchmark ends.
	setup func(ctx context.Context, bin, server, store string) (env []string, cleanup func(), err error)
}

func propModes() []propMode {
	return []propMode{
		{name: "poll only (revocation_poll 1s)", setup: clustertest.PollOnly},
		{name: "notify (PostgreSQL LISTEN/NOTIFY)", setup: func(context.Context, string, string, string) ([]string, func(), error) {
			return nil, func() {}, nil
		}},
		// Redis alone: NOTIFY lost as in poll only, so only Redis pub/sub
		// is left to be fast.
		{name: "redis (pub/sub; NOTIFY lost)", setup: func(ctx context.Context, bin, server, store string) ([]string, func(), error) {
			env, cleanup, err := clustertest.PollOnly(ctx, bin, server, store)
			if err != nil {
				return nil, nil, err
			}
			u := os.Getenv("TESSERA_TEST_REDIS")
			if u == "" {
				u = redistest.DefaultURL
			}
			var b [8]byte
			rand.Read(b[:])
			return append(env, "TESSERA_REDIS_URL="+u, "TESSERA_REDIS_PREFIX=tessera-bench-"+hex.EncodeToString(b[:])+":"), cleanup, nil
		}},
	}
}

// propagation measures how long a revocation committed through one node
// takes to be honoured by the two others, for each fan-out mode, beside
// the bare floor (three net/http servers sharing memory: the probe's own
// resolution). Each mode runs its own three-node cluster on its own
// PostgreSQL schema; rounds alternate between the modes so a noisy shared
// machine affects each alike.
func propagation(rounds, samples int, gap, jitter time.Duration, only string) bool {
	fmt.Printf("\npropagation: building tessera, starting 3-node clusters…\n")
	ctx := context.Background()
	server := os.Getenv("TESSERA_TEST_POSTGRES")
	if server == "" {
		server = pgtest.DefaultURL
	}
	dir, err := os.MkdirTemp("", "tessera-benchrun")
	if err != nil {
		fmt.Println(err)
		return false
	}
	defer os.RemoveAll(dir)
	bin, err := clustertest.Build(dir)
	if err != nil {
		fmt.Println(err)
		return false
	}
	type side struct {
		name  string
		nodes bench.Nodes
		got   []time.Duration
	}
	floor := bench.NewBareNodes(3)
	defer floor.Close()
	sides := []*side{{name: "floor: bare net/http, shared memory", nodes: floor}}
	for _, m := range propModes() {
		if only != "" && !strings.Contains(only, strings.Fields(m.name)[0]) {
			continue
		}
		store, drop, err := clustertest.NewSchema(ctx, server)
		if err != nil {
			fmt.Printf("  %s: %v\n", m.name, err)
			return false
		}
		defer drop()
		env, cleanup, err := m.setup(ctx, bin, server, store)
		if err != nil {
			fmt.Printf("  %s: %v\n", m.name, err)
			return false
		}
		defer cleanup()
		c, err := clustertest.StartCluster(clustertest.ClusterConfig{Binary: bin, Dir: dir, Nodes: 3, Store: store, Env: append(env, "TESSERA_POLICY_SESSION_MAX_PER_USER=0")})
		if err != nil {
			fmt.Printf("  %s: %v\n", m.name, err)
			return false
		}
		defer c.Close()
		n, err := bench.NewClusterNodes(c)
		if err != nil {
			fmt.Printf("  %s: %v\n", m.name, err)
			return false
		}
		sides = append(sides, &side{name: m.name, nodes: n})
		dir, _ = os.MkdirTemp(dir, "mode") // each cluster's nodes in a folder of their own
	}
	per := max(1, samples/rounds)
	for r := range rounds {
		for k := range sides {
			s := sides[(k+r)%len(sides)]
			for j := range per {
				d, err := bench.Propagation(ctx, s.nodes, (r*per+j)%3, gap, jitter, 10*time.Second)
				if err != nil {
					fmt.Printf("  %s: %v\n", s.name, err)
					return false
				}
				s.got = append(s.got, d...)
			}
		}
	}
	fmt.Printf("  revocation propagation, 3 nodes: admin revoke on one node (rotating), time from its 2xx to each\n")
	fmt.Printf("  other node's first 401, probed every %v, revoked at a random 0–%v; %d rounds × %d samples × 2 nodes per side\n", gap, jitter, rounds, per)
	f99 := bench.Percentile(bench.SortDurations(sides[0].got), 0.99)
	for _, s := range sides {
		d := bench.SortDurations(s.got)
		p50, p99 := bench.Percentile(d, 0.50), bench.Percentile(d, 0.99)
		fmt.Printf("    %-40s n=%-4d p50 %8s  p99 %8s  max %8s", s.name+":", len(d), ms(p50), ms(p99), ms(d[len(d)-1]))
		if s != sides[0] && f99 > 0 {
			fmt.Printf("  p99 %.1f× floor", float64(p99)/float64(f99))
		}
		fmt.Println()
	}
	return true
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond)) }
