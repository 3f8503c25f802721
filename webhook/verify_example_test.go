package webhook_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tessera-auth/tessera/alert"
)

// docs:begin verify
// verifyWebhook checks a Tessera alert webhook (Standard Webhooks):
// secret is the whsec_ secret, body the raw request body, unparsed.
func verifyWebhook(secret string, h http.Header, body []byte, now time.Time) error {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return err
	}
	id, ts := h.Get("webhook-id"), h.Get("webhook-timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if id == "" || err != nil {
		return errors.New("missing webhook-id or webhook-timestamp")
	}
	// Refuse old (replayed) and future timestamps.
	if d := now.Sub(time.Unix(sec, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return errors.New("webhook-timestamp too far from now")
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	want := mac.Sum(nil)
	// A space-separated list: during a secret rotation, one per secret.
	for _, sig := range strings.Fields(h.Get("webhook-signature")) {
		version, b64, _ := strings.Cut(sig, ",")
		got, err := base64.StdEncoding.DecodeString(b64)
		if version == "v1" && err == nil && hmac.Equal(got, want) {
			return nil // then drop it if webhook-id was seen before
		}
	}
	return errors.New("no valid signature")
}

// docs:end verify

// The verification snippet of docs/webhooks.md, run on what Tessera's
// signer produces.
func Example_verifyWebhook() {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	key, _ := alert.ParseSecret(secret)
	body := []byte(`{"type":"alert.raised","timestamp":"2026-05-04T10:00:00Z","data":{"id":"a1"}}`)
	at := time.Unix(1777888800, 0)
	h := http.Header{}
	for k, v := range alert.Headers(key, "msg_1", at, body) {
		h.Set(k, v)
	}
	fmt.Println(verifyWebhook(secret, h, body, at.Add(time.Second)))
	fmt.Println(verifyWebhook(secret, h, append(body, ' '), at.Add(time.Second)))
	fmt.Println(verifyWebhook(secret, h, body, at.Add(time.Hour)))
	// Output:
	// <nil>
	// no valid signature
	// webhook-timestamp too far from now
}
