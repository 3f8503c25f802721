// Package webhook sends alert webhooks over HTTP (alert.Sender): one POST
// per attempt, no redirects followed, errors that never quote the URL.
package webhook

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/tessera-auth/tessera/alert"
)

// Sender posts webhooks. Safe for concurrent use.
type Sender struct {
	client *http.Client
}

// New returns a sender. Its client follows no redirect: Standard Webhooks
// counts a 3xx as a failure ("update the webhook URL instead"), and a
// redirect could carry the signed alert somewhere the operator did not
// configure.
func New() *Sender {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 4
	t.ResponseHeaderTimeout = time.Minute
	return &Sender{client: &http.Client{
		Transport:     t,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// Send POSTs body to u with header and returns the response's status and
// Retry-After (RFC 9110 §10.2.3: seconds or an HTTP date). ctx bounds the
// whole attempt. The error leaves out the URL (url.Error quotes it, and a
// webhook URL may hold a credential).
func (s *Sender) Send(ctx context.Context, u string, header map[string]string, body []byte) (alert.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return alert.Response{}, errors.New("bad webhook URL")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	req.Header.Set("User-Agent", "Tessera-Webhooks/1")
	resp, err := s.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return alert.Response{}, errors.New("timed out")
		}
		return alert.Response{}, err
	}
	// Drain a little so the connection can be reused; the body itself
	// means nothing.
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return alert.Response{Status: resp.StatusCode, RetryAfter: retryAfter(resp.Header.Get("Retry-After"), time.Now())}, nil
}

// retryAfter reads a Retry-After value at now; 0 when absent or unusable.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 || n > 7*24*3600 {
			return 0
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
