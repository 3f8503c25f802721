package bench

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestPropagationOnBareNodes: a sample on the floor gives one delay per
// node other than the revoker, and never a negative one.
func TestPropagationOnBareNodes(t *testing.T) {
	n := NewBareNodes(3)
	defer n.Close()
	for revoker := range 3 {
		d, err := Propagation(context.Background(), n, revoker, time.Millisecond, 0, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if len(d) != 2 || d[0] < 0 || d[1] < 0 {
			t.Fatalf("revoker %d: %v", revoker, d)
		}
	}
}

// deaf never learns of revocations made through another node.
type deaf struct{ *BareNodes }

func (d deaf) Refused(i int, cred string) (bool, error) {
	if i == 2 {
		return false, nil
	}
	return d.BareNodes.Refused(i, cred)
}

// TestPropagationTimesOut: a node that goes on accepting a revoked session
// is an error, not a long sample.
func TestPropagationTimesOut(t *testing.T) {
	n := NewBareNodes(3)
	defer n.Close()
	_, err := Propagation(context.Background(), deaf{n}, 0, time.Millisecond, 0, 200*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "node 2 still accepts") {
		t.Fatalf("err %v", err)
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := range 100 {
		d = append(d, time.Duration(100-i))
	}
	SortDurations(d)
	if p := Percentile(d, 0.5); p != 50 {
		t.Fatalf("p50 %v", p)
	}
	if p := Percentile(d, 0.99); p != 99 {
		t.Fatalf("p99 %v", p)
	}
	if p := Percentile(nil, 0.99); p != 0 {
		t.Fatalf("empty: %v", p)
	}
}
