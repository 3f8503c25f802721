package webhook

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestResponseBodyIsBounded: a receiver that answers with an endless body
// cannot keep the sender reading it. The receiver offers far more than
// the sender drains plus what the loopback socket buffers hold; it must
// see its writes fail (the sender closed the connection) rather than
// deliver all of it.
func TestResponseBodyIsBounded(t *testing.T) {
	const offered = 256 << 20
	wrote := make(chan int, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := make([]byte, 64<<10)
		n := 0
		for n < offered {
			m, err := w.Write(chunk)
			n += m
			if err != nil {
				break
			}
		}
		wrote <- n
	}))
	defer srv.Close()
	resp, err := New().Send(context.Background(), srv.URL, nil, []byte("{}"))
	if err != nil || resp.Status != http.StatusOK {
		t.Fatalf("Send = %+v, %v", resp, err)
	}
	if n := <-wrote; n >= offered {
		t.Fatalf("the sender read the whole %d-byte response body", n)
	}
}
