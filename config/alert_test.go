package config

import (
	"strings"
	"testing"
)

func TestWebhookValidate(t *testing.T) {
	ok := Webhook{Name: "siem", URL: "https://siem.example.com/h", Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}
	for _, c := range []struct {
		name string
		edit func(w *Webhook)
		want string // "" for valid
	}{
		{"ok", func(*Webhook) {}, ""},
		{"loopback http", func(w *Webhook) { w.URL = "http://127.0.0.1:9000/h" }, ""},
		{"localhost http", func(w *Webhook) { w.URL = "http://localhost:9000/h" }, ""},
		{"plain http", func(w *Webhook) { w.URL = "http://siem.example.com/h?key=SECRETX" }, "webhooks[0].url"},
		{"no scheme", func(w *Webhook) { w.URL = "siem.example.com" }, "webhooks[0].url"},
		{"no secret", func(w *Webhook) { w.Secret = "" }, "webhooks[0].secret"},
		{"both secrets", func(w *Webhook) { w.SecretFile = "/s" }, "webhooks[0].secret"},
		{"not whsec", func(w *Webhook) { w.Secret = "hunter2" }, "webhooks[0].secret"},
		// What serve's alert.ParseSecret would refuse, refused by validate.
		{"short secret", func(w *Webhook) { w.Secret = "whsec_aHVudGVyMg==" }, "webhooks[0].secret"},
		{"not base64", func(w *Webhook) { w.Secret = "whsec_hunter2!!" }, "webhooks[0].secret"},
		{"huge secret", func(w *Webhook) { w.Secret = "whsec_" + strings.Repeat("hunter2A", 20) }, "webhooks[0].secret"},
		{"bad url", func(w *Webhook) { w.URL = "https://%zz/h" }, "webhooks[0].url"},
		{"ftp url", func(w *Webhook) { w.URL = "ftp://siem.example.com/h" }, "webhooks[0].url"},
		{"negative timeout", func(w *Webhook) { w.Timeout = -1 }, "webhooks[0].timeout"},
		{"bad name", func(w *Webhook) { w.Name = "a b" }, "webhooks[0].name"},
		{"severity", func(w *Webhook) { w.MinSeverity = "urgent" }, "webhooks[0].min_severity"},
		{"timeout", func(w *Webhook) { w.Timeout = Duration(2 * 60e9) }, "webhooks[0].timeout"},
		{"rules", func(w *Webhook) { w.Rules = []string{"refresh_reuse", "credential_stuffing"} }, ""},
		// A misspelt rule would silently send nothing.
		{"unknown rule", func(w *Webhook) { w.Rules = []string{"refresh_resue"} }, "webhooks[0].rules"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := Default()
			w := ok
			c.edit(&w)
			cfg.Webhooks = []Webhook{w}
			err := cfg.Validate()
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("err = %v, want one about %s", err, c.want)
			case err != nil && (strings.Contains(err.Error(), "SECRETX") || strings.Contains(err.Error(), "hunter2")):
				t.Fatalf("the error quotes a secret: %v", err)
			}
		})
	}
	cfg := Default()
	cfg.Webhooks = []Webhook{ok, ok}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "used twice") {
		t.Fatalf("duplicate names: %v", err)
	}
	// config show never prints the secret, nor a credential in the URL
	// (a password in its userinfo, a token in its query).
	cfg.Webhooks = []Webhook{{Name: "siem", URL: "https://u:URLPASS@siem.example.com/h?token=URLTOKEN", Secret: "whsec_TOPSECRET"}}
	shown := false
	for _, s := range cfg.Settings(nil) {
		for _, secret := range []string{"TOPSECRET", "URLPASS", "URLTOKEN"} {
			if strings.Contains(s.Value, secret) {
				t.Fatalf("%s shows a secret: %s", s.Key, s.Value)
			}
		}
		shown = shown || strings.Contains(s.Value, "siem.example.com/h")
	}
	if !shown {
		t.Fatal("config show does not name the webhook's host and path")
	}
}
