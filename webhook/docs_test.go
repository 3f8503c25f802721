package webhook_test

import (
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/alert"
)

// snippet returns the fenced code block that follows marker in doc.
func snippet(t *testing.T, doc, marker string) string {
	t.Helper()
	_, rest, ok := strings.Cut(doc, marker)
	if !ok {
		t.Fatalf("docs/webhooks.md lacks %q", marker)
	}
	_, rest, _ = strings.Cut(rest, "```")
	_, rest, _ = strings.Cut(rest, "\n") // the fence's language
	code, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatalf("no fenced block after %q", marker)
	}
	return strings.TrimRight(code, "\n")
}

// TestDocSnippets: the Go verification code in docs/webhooks.md is the
// code Example_verifyWebhook runs, and the Node.js one verifies a request
// Tessera signed (and refuses a changed body), so neither can rot.
func TestDocSnippets(t *testing.T) {
	b, err := os.ReadFile("../docs/webhooks.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	src, err := os.ReadFile("verify_example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	_, code, _ := strings.Cut(string(src), "// docs:begin verify\n")
	code, _, _ = strings.Cut(code, "\n// docs:end verify")
	if got := snippet(t, doc, "<!-- snippet: webhook/verify_example_test.go verify -->"); got != strings.TrimRight(code, "\n") {
		t.Fatalf("docs/webhooks.md's Go snippet differs from verify_example_test.go:\n%s", got)
	}

	js := snippet(t, doc, "<!-- snippet: node -->")
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("node: %v; CI=true runs this test, never skips it", err)
		}
		t.Skipf("SKIP: node not installed (%v): the Node.js snippet is not run (CI=true fails instead)", err)
	}
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	key, err := alert.ParseSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"type":"alert.raised","timestamp":"2026-05-04T10:00:00Z","data":{"id":"a1","evidence":{"ua":"Mozilla/5.0 (X11; \u00e9)"}}}`)
	at := time.Now()
	h := alert.Headers(key, "msg_1", at, body)
	script := filepath.Join(t.TempDir(), "verify.cjs")
	harness := js + `
const [secret, id, ts, sig, b64] = process.argv.slice(2);
for (const body of [Buffer.from(b64, "base64"), Buffer.concat([Buffer.from(b64, "base64"), Buffer.from(" ")])]) {
  try { verifyWebhook(secret, {"webhook-id": id, "webhook-timestamp": ts, "webhook-signature": sig}, body); console.log("ok"); }
  catch (e) { console.log(e.message); }
}
`
	if err := os.WriteFile(script, []byte(harness), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(node, script, secret, h["webhook-id"], h["webhook-timestamp"], h["webhook-signature"],
		base64.StdEncoding.EncodeToString(body)).CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	if got := string(out); got != "ok\nno valid signature\n" {
		t.Fatalf("the Node.js snippet printed %q (timestamp %s)", got, strconv.FormatInt(at.Unix(), 10))
	}
}
