package main

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// headerBlock is how many bytes of request line and header lines
// (terminating blank line included) the server accepts: net/http reads
// MaxHeaderBytes plus 4096 bytes of slack before answering 431, so the
// configured 16 KiB is 20480 bytes in practice.
const headerBlock = 16<<10 + 4096

// TestHeaderLimit measures the largest request head the server built by
// newHTTPServer accepts, and checks that docs/api.md states that number:
// a head of headerBlock bytes is served, one byte more is 431.
func TestHeaderLimit(t *testing.T) {
	srv := newHTTPServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), slog.New(slog.DiscardHandler))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	status := func(size int) int {
		t.Helper()
		const head = "GET / HTTP/1.1\r\nHost: x\r\nX-Pad: "
		const tail = "\r\n\r\n"
		pad := size - len(head) - len(tail)
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := io.WriteString(c, head+strings.Repeat("a", pad)+tail); err != nil {
			t.Fatal(err)
		}
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("head of %d bytes: %v", size, err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if got := status(headerBlock); got != http.StatusOK {
		t.Errorf("a %d-byte request head: %d, want 200", headerBlock, got)
	}
	if got := status(headerBlock + 1); got != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("a %d-byte request head: %d, want 431", headerBlock+1, got)
	}

	doc, err := os.ReadFile("../../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)over ([0-9,]+) bytes.{0,200}\\(`431`\\)").FindSubmatch(doc)
	if m == nil {
		t.Fatal("docs/api.md does not state the header limit as \"over N bytes … (`431`)\"")
	}
	if n, _ := strconv.Atoi(strings.ReplaceAll(string(m[1]), ",", "")); n != headerBlock {
		t.Errorf("docs/api.md says %s bytes; the server accepts %d", m[1], headerBlock)
	}
}
