package bench

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"time"

	"github.com/tessera-auth/tessera/internal/clustertest"
)

// Nodes is a set of servers that share revocations, as a propagation
// sample sees them.
type Nodes interface {
	// Len is the number of nodes.
	Len() int
	// Session makes a session and uses it once on every node, so each
	// has it cached: a revocation must then evict it, not merely miss.
	Session() (cred, id string, err error)
	// Revoke revokes session id through node i and returns once it
	// answered 2xx.
	Revoke(i int, id string) error
	// Refused reports whether node i refuses cred now (401); an error is
	// any other answer.
	Refused(i int, cred string) (bool, error)
}

// Propagation takes one sample: it revokes a fresh session through node
// revoker while probing every other node every gap, and returns, per other
// node, the time from the revoke's 2xx to the receipt of that node's first
// refusal (0 if the refusal arrived first). Each probe takes one round
// trip, so a sample overstates the delay by up to gap plus one round trip:
// the bare floor (BareNodes) measures exactly that overstatement. Before
// it starts probing it waits a random time up to jitter: samples taken back
// to back would otherwise lock to the phase of the nodes' feed poll (each
// starting just after the poll that ended the last one) and all measure
// the worst case.
func Propagation(ctx context.Context, n Nodes, revoker int, gap, jitter, timeout time.Duration) ([]time.Duration, error) {
	cred, id, err := n.Session()
	if err != nil {
		return nil, err
	}
	if jitter > 0 {
		time.Sleep(rand.N(jitter))
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		firstE error
		at     = make([]time.Time, n.Len())
		probed = make(chan struct{}, n.Len())
	)
	for i := range n.Len() {
		if i == revoker {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			once := false
			for ctx.Err() == nil {
				refused, err := n.Refused(i, cred)
				if !once {
					once = true
					probed <- struct{}{}
				}
				if err != nil || refused {
					mu.Lock()
					at[i] = time.Now()
					if err != nil && firstE == nil {
						firstE = fmt.Errorf("node %d: %w", i, err)
					}
					mu.Unlock()
					return
				}
				time.Sleep(gap)
			}
			mu.Lock()
			if firstE == nil {
				firstE = fmt.Errorf("node %d still accepts the session after %v", i, timeout)
			}
			mu.Unlock()
		}()
	}
	// Revoke once every prober has been through once (and found the
	// session live: a node refusing it before the revoke is an error).
	for range n.Len() - 1 {
		<-probed
	}
	mu.Lock()
	early := firstE
	for i, t := range at {
		if i != revoker && !t.IsZero() && early == nil {
			early = fmt.Errorf("node %d refused the session before it was revoked", i)
		}
	}
	mu.Unlock()
	if early != nil {
		cancel()
		wg.Wait()
		return nil, early
	}
	if err := n.Revoke(revoker, id); err != nil {
		cancel()
		wg.Wait()
		return nil, err
	}
	t0 := time.Now()
	wg.Wait()
	if firstE != nil {
		return nil, firstE
	}
	var out []time.Duration
	for i, t := range at {
		if i != revoker {
			out = append(out, max(0, t.Sub(t0)))
		}
	}
	return out, nil
}

// Percentile of sorted durations (nearest rank).
func Percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// SortDurations sorts d in place and returns it.
func SortDurations(d []time.Duration) []time.Duration {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d
}

// ClusterNodes is a real cluster of `tessera serve` processes
// (internal/clustertest) with one user.
type ClusterNodes struct {
	C    *clustertest.Cluster
	user string
}

// NewClusterNodes wraps c and adds the user its sessions belong to.
func NewClusterNodes(c *clustertest.Cluster) (*ClusterNodes, error) {
	if _, err := c.AddUser(c.Nodes[0], "bench"); err != nil {
		return nil, err
	}
	return &ClusterNodes{C: c, user: "bench"}, nil
}

func (n *ClusterNodes) Len() int { return len(n.C.Nodes) }

func (n *ClusterNodes) Session() (string, string, error) {
	l, err := n.C.Login(n.C.Nodes[0].Public, n.user, clustertest.Password, "cookie")
	if err != nil {
		return "", "", err
	}
	for _, node := range n.C.Nodes {
		if code, err := n.C.Whoami(node.Public, clustertest.Cred{Bearer: l.Session}); code != 200 {
			return "", "", fmt.Errorf("warm on %s: %d %v", node.Name, code, err)
		}
	}
	return l.Session, l.SessionID, nil
}

func (n *ClusterNodes) Revoke(i int, id string) error {
	code, body, err := n.C.Admin("DELETE", n.C.Nodes[i].Admin+"/admin/v1/sessions/"+id, "")
	if err != nil {
		return err
	}
	if code/100 != 2 {
		return fmt.Errorf("revoke: %d %s", code, body)
	}
	return nil
}

func (n *ClusterNodes) Refused(i int, cred string) (bool, error) {
	code, err := n.C.Whoami(n.C.Nodes[i].Public, clustertest.Cred{Bearer: cred})
	switch {
	case err != nil:
		return false, err
	case code == 200:
		return false, nil
	case code == 401:
		return true, nil
	}
	return false, fmt.Errorf("whoami: %d", code)
}

// BareNodes is the floor: n bare net/http servers sharing one in-memory
// set of revoked sessions, so a revocation is visible everywhere the
// instant it is made. What a sample measures on them is the probe's own
// resolution.
type BareNodes struct {
	srv     []*httptest.Server
	client  *http.Client
	revoked sync.Map
}

// NewBareNodes starts n bare servers; Close stops them.
func NewBareNodes(n int) *BareNodes {
	b := &BareNodes{client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}}}
	h := http.NewServeMux()
	h.HandleFunc("GET /v1/session", func(w http.ResponseWriter, r *http.Request) {
		if _, ok := b.revoked.Load(r.Header.Get("Authorization")); ok {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"session":{}}`))
	})
	h.HandleFunc("DELETE /admin/v1/sessions/{id}", func(w http.ResponseWriter, r *http.Request) {
		b.revoked.Store("Bearer "+r.PathValue("id"), true)
		w.WriteHeader(http.StatusNoContent)
	})
	for range n {
		b.srv = append(b.srv, httptest.NewServer(h))
	}
	return b
}

// Close stops the servers.
func (b *BareNodes) Close() {
	for _, s := range b.srv {
		s.Close()
	}
}

func (b *BareNodes) Len() int { return len(b.srv) }

func (b *BareNodes) Session() (string, string, error) {
	var r [16]byte
	crand.Read(r[:])
	id := hex.EncodeToString(r[:])
	for i := range b.srv {
		if refused, err := b.Refused(i, id); refused || err != nil {
			return "", "", errors.Join(err, errors.New("bare: fresh session refused"))
		}
	}
	return id, id, nil
}

func (b *BareNodes) Revoke(i int, id string) error {
	req, _ := http.NewRequest("DELETE", b.srv[i].URL+"/admin/v1/sessions/"+id, nil)
	res, err := b.client.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return nil
}

func (b *BareNodes) Refused(i int, cred string) (bool, error) {
	req, _ := http.NewRequest("GET", b.srv[i].URL+"/v1/session", nil)
	req.Header.Set("Authorization", "Bearer "+cred)
	res, err := b.client.Do(req)
	if err != nil {
		return false, err
	}
	io.Copy(io.Discard, res.Body) // or the connection is not reused
	res.Body.Close()
	return res.StatusCode == http.StatusUnauthorized, nil
}
