package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestValidateForwardAuth(t *testing.T) {
	for _, tt := range []struct {
		name   string
		mutate func(*ForwardAuth)
		want   string
	}{
		{"bad csrf mode", func(f *ForwardAuth) { f.CSRF = "off" }, "forward_auth.csrf"},
		{"header name with a space", func(f *ForwardAuth) { f.Headers.Username = "Remote User" }, "forward_auth.headers.username"},
		{"empty header name", func(f *ForwardAuth) { f.Headers.AAL = "" }, "forward_auth.headers.aal"},
		{"a header HTTP acts on", func(f *ForwardAuth) { f.Headers.UserID = "content-length" }, "gives a meaning"},
		{"two fields one header", func(f *ForwardAuth) { f.Headers.Username = "x-tessera-user-id" }, "also the"},
		{"service tokens for anyone", func(f *ForwardAuth) { f.ServiceTokens.Enabled = true }, "forward_auth.service_tokens"},
		{"relative path prefix", func(f *ForwardAuth) { f.Rules = []ForwardAuthRule{{PathPrefix: "admin", AAL: 2}} }, "path_prefix"},
		{"aal 4", func(f *ForwardAuth) { f.Rules = []ForwardAuthRule{{AAL: 4}} }, "aal"},
		{"rule requiring nothing", func(f *ForwardAuth) { f.Rules = []ForwardAuthRule{{Host: "a.example"}} }, "requires nothing"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.mutate(&c.ForwardAuth)
			if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v, want an error mentioning %q", err, tt.want)
			}
		})
	}
}

func TestLoadForwardAuth(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tessera.yaml")
	os.WriteFile(path, []byte(`
forward_auth:
  headers:
    username: Remote-User
  service_tokens:
    enabled: true
    scope: [upstream]
  rules:
    - host: admin.example.com
      path_prefix: /
      aal: 2
      max_auth_age: 15m
`), 0o600)
	c, err := Load(path, []string{"TESSERA_FORWARD_AUTH_CSRF=origin"})
	if err != nil {
		t.Fatal(err)
	}
	f := c.ForwardAuth
	if f.CSRF != "origin" || f.Headers.Username != "Remote-User" || f.Headers.UserID != "X-Tessera-User-Id" ||
		!f.ServiceTokens.Enabled || len(f.Rules) != 1 || f.Rules[0].MaxAuthAge != Duration(15*time.Minute) {
		t.Fatalf("forward_auth %+v", f)
	}
	// Rules are YAML only: a variable for them is an error, not a panic.
	if _, err := Load("", []string{"TESSERA_FORWARD_AUTH_RULES=x"}); err == nil || !strings.Contains(err.Error(), "TESSERA_FORWARD_AUTH_RULES") {
		t.Fatalf("rules from the environment: %v", err)
	}
}
