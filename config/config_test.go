package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDefaultIsValid(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string // substring of the error
	}{
		{"bad listen", func(c *Config) { c.Listen = "8080" }, "listen"},
		{"same listeners", func(c *Config) { c.AdminListen = c.Listen }, "must differ"},
		{"idle too short", func(c *Config) { c.Policy.Session.IdleTimeout = Duration(time.Second) }, "idle_timeout"},
		{"absolute below idle", func(c *Config) { c.Policy.Session.AbsoluteTimeout = Duration(10 * time.Minute) }, "absolute_timeout"},
		{"touch over half idle", func(c *Config) { c.Policy.Session.TouchInterval = Duration(20 * time.Minute) }, "touch_interval"},
		{"negative cap", func(c *Config) { c.Policy.Session.MaxPerUser = -1 }, "max_per_user"},
		{"short passwords", func(c *Config) { c.Policy.Password.MinLength = 6 }, "min_length"},
		{"max below 64", func(c *Config) { c.Policy.Password.MaxLength = 32 }, "max_length"},
		{"bad samesite", func(c *Config) { c.Policy.Cookie.SameSite = "none" }, "same_site"},
		{"bad proxy", func(c *Config) { c.TrustedProxies = []string{"10.0.0.1"} }, "trusted_proxies"},
		{"origin with path", func(c *Config) { c.PublicOrigin = "https://a.example/x" }, "origin"},
		{"half tls", func(c *Config) { c.TLSCert = "c.pem" }, "tls_cert"},
		{"zero burst", func(c *Config) { c.Policy.Login.PerIPBurst = 0 }, "per_ip_burst"},
		{"zero probe burst", func(c *Config) { c.Policy.Probe.BearerPerIPBurst = 0 }, "policy.probe.bearer_per_ip_burst"},
		{"zero probe refill", func(c *Config) { c.Policy.Probe.IntrospectPerClientRefill = 0 }, "policy.probe.introspect_per_client_refill"},
		{"bad store", func(c *Config) { c.Store = "mysql://x" }, "store"},
		{"bad redis scheme", func(c *Config) { c.Redis.URL = "http://cache:6379" }, "redis.url"},
		{"redis without host", func(c *Config) { c.Redis.URL = "redis:///0" }, "redis.url"},
		{"redis prefix with braces", func(c *Config) { c.Redis.Prefix = "{t}" }, "redis.prefix"},
		{"empty redis prefix", func(c *Config) { c.Redis.Prefix = "" }, "redis.prefix"},
		{"direct without postgres", func(c *Config) { c.StoreDirect = "postgres://db/tessera" }, "store_direct"},
		{"direct not postgres", func(c *Config) { c.Store, c.StoreDirect = "postgres://pgb/t", "sqlite:x.db" }, "store_direct"},
		{"bad log level", func(c *Config) { c.LogLevel = "loud" }, "log_level"},
		{"hmac keys", func(c *Config) { c.Policy.Keys.Algorithm = "HS256" }, "policy.keys.algorithm"},
		{"rotation too often", func(c *Config) { c.Policy.Keys.RotationInterval = Duration(time.Minute) }, "rotation_interval"},
		{"retired too briefly", func(c *Config) { c.Policy.Keys.RetiredTTL = Duration(time.Minute) }, "retired_ttl"},
		{"access ttl too long", func(c *Config) { c.Policy.Tokens.AccessTTL = Duration(48 * time.Hour) }, "access_ttl"},
		{"refresh beyond session", func(c *Config) { c.Policy.Tokens.RefreshTTL = Duration(30 * 24 * time.Hour) }, "refresh_ttl"},
		{"grace too long", func(c *Config) { c.Policy.Tokens.RefreshGrace = Duration(time.Hour) }, "refresh_grace"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.mutate(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v, want an error mentioning %q", err, tt.want)
			}
		})
	}
}

func TestLoadFileAndEnv(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tessera.yaml")
	os.WriteFile(path, []byte(`
listen: 127.0.0.1:9000
policy:
  session:
    idle_timeout: 45m
    max_per_user: 3
`), 0o600)
	c, err := Load(path, []string{
		"TESSERA_POLICY_SESSION_MAX_PER_USER=7", // env beats the file
		"TESSERA_TRUSTED_PROXIES=10.0.0.0/8, 192.168.0.0/16",
		"TESSERA_POLICY_PASSWORD_ARGON2_MEMORY_KIB=65536",
		"OTHER=ignored",
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:9000" || c.Policy.Session.IdleTimeout.D() != 45*time.Minute {
		t.Fatalf("file not applied: %+v", c)
	}
	if c.Policy.Session.MaxPerUser != 7 {
		t.Fatalf("env did not override the file: %d", c.Policy.Session.MaxPerUser)
	}
	if len(c.TrustedProxies) != 2 || c.TrustedProxies[1] != "192.168.0.0/16" {
		t.Fatalf("TrustedProxies = %q", c.TrustedProxies)
	}
	if c.Policy.Password.Argon2Memory != 65536 {
		t.Fatalf("Argon2Memory = %d", c.Policy.Password.Argon2Memory)
	}
	if c.Policy.Session.AbsoluteTimeout.D() != 12*time.Hour {
		t.Fatal("unset field lost its default")
	}
}

func TestLoadRejects(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, file string
		env        []string
	}{
		{"unknown key", "policy:\n  session:\n    idle_timout: 10m\n", nil},
		{"bad duration", "policy:\n  session:\n    idle_timeout: soon\n", nil},
		{"invalid value", "policy:\n  password:\n    min_length: 4\n", nil},
		{"bad env duration", "", []string{"TESSERA_POLICY_SESSION_IDLE_TIMEOUT=forever"}},
		{"bad env int", "", []string{"TESSERA_POLICY_SESSION_MAX_PER_USER=ten"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_")+".yaml")
			os.WriteFile(path, []byte(tt.file), 0o600)
			if _, err := Load(path, tt.env); err == nil {
				t.Fatal("Load accepted bad configuration")
			}
		})
	}
}

func TestEmptyFileMeansDefaults(t *testing.T) {
	path := filepath.Join(t.TempDir(), "empty.yaml")
	os.WriteFile(path, nil, 0o600)
	c, err := Load(path, nil)
	if err != nil || c.Policy.Session.IdleTimeout != Default().Policy.Session.IdleTimeout {
		t.Fatalf("Load(empty) = %+v, %v", c, err)
	}
}

func TestPolicyYAMLRoundTrip(t *testing.T) {
	p := Default().Policy
	p.Session.IdleTimeout = Duration(17 * time.Minute)
	b, err := p.YAML()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "idle_timeout: 17m0s") {
		t.Fatalf("policy YAML:\n%s", b)
	}
	path := filepath.Join(t.TempDir(), "p.yaml")
	os.WriteFile(path, b, 0o600)
	c, err := Load(path, nil)
	if err != nil || !reflect.DeepEqual(c.Policy, p) {
		t.Fatalf("printed policy does not load back: %v", err)
	}
}

func TestEnvNames(t *testing.T) {
	names := strings.Join(EnvNames(), " ")
	for _, want := range []string{"TESSERA_LISTEN", "TESSERA_REDIS_URL", "TESSERA_REDIS_PREFIX", "TESSERA_POLICY_SESSION_IDLE_TIMEOUT", "TESSERA_POLICY_COOKIE_SAME_SITE"} {
		if !strings.Contains(names, want) {
			t.Errorf("EnvNames lacks %s", want)
		}
	}
}

// TestStoreURLMessagesHidePassword: a store URL that is not one Tessera
// takes is refused without quoting it: it may hold a password.
func TestStoreURLMessagesHidePassword(t *testing.T) {
	for _, u := range []string{
		"postgres://root:SEC%zzRETPW@db/test",
		"postgres://root:SECRETPW/test",
		"postgres:root:SECRETPW",
		"mysql://root:SECRETPW@db/test",
	} {
		c := Default()
		c.Store = u
		err := c.Validate()
		if err == nil || strings.Contains(err.Error(), "SECRET") {
			t.Errorf("Validate(store=…): %v; want a refusal without the password", err)
		}
	}
}

// TestRedisURLMessagesHidePassword: likewise for the Redis URL.
func TestRedisURLMessagesHidePassword(t *testing.T) {
	for _, u := range []string{
		"redis://:SEC%zzRETPW@cache:6379",
		"redis://default:SECRETPW@cache:x",
		"redis:default:SECRETPW",
		"memcache://u:SECRETPW@cache",
	} {
		c := Default()
		c.Redis.URL = u
		err := c.Validate()
		if err == nil || strings.Contains(err.Error(), "SECRET") {
			t.Errorf("Validate(redis.url=…): %v; want a refusal without the password", err)
		}
	}
	c := Default()
	c.Redis.URL = "rediss://default:pw@cache:6380/1?addr=cache2:6380"
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestIssuer: the issuer is https:// when Tessera serves TLS itself, by
// default and by validation (on main the default was http://<listen> and
// an http issuer was accepted beside tls_cert); RFC 8414 §2 shapes are
// checked; the first party's client_id is one that travels unencoded.
func TestIssuer(t *testing.T) {
	c := Default()
	c.TLSCert, c.TLSKey = "cert.pem", "key.pem"
	if got := c.Issuer(); got != "https://127.0.0.1:8080" {
		t.Fatalf("issuer with TLS: %q", got)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		set  func(*Config)
		want string // "" valid
	}{
		{func(c *Config) { c.TLSCert, c.TLSKey = "c", "k"; c.Policy.Tokens.Issuer = "http://auth.example.com" }, "policy.tokens.issuer"},
		{func(c *Config) { c.TLSCert, c.TLSKey = "c", "k"; c.PublicOrigin = "http://auth.example.com" }, "public_origin"},
		{func(c *Config) { c.TLSCert, c.TLSKey = "c", "k"; c.PublicOrigin = "https://auth.example.com" }, ""},
		{func(c *Config) { c.Policy.Tokens.Issuer = "https://auth.example.com/tenant" }, ""},
		{func(c *Config) { c.Policy.Tokens.Issuer = "https://auth.example.com/tenant/" }, "ends in /"},
		{func(c *Config) { c.Policy.Tokens.Issuer = "https://auth.example.com?x=1" }, "query"},
		{func(c *Config) { c.Policy.Tokens.Issuer = "https://auth.example.com#f" }, "query or fragment"},
		{func(c *Config) { c.Policy.Tokens.Issuer = "auth.example.com" }, "not an https"},
		{func(c *Config) { c.Policy.Tokens.FirstPartyClientID = "web-app" }, ""},
		{func(c *Config) { c.Policy.Tokens.FirstPartyClientID = "" }, "first_party_client_id"},
		{func(c *Config) { c.Policy.Tokens.FirstPartyClientID = "a b" }, "first_party_client_id"},
		{func(c *Config) { c.Policy.Tokens.FirstPartyClientID = "a:b" }, "first_party_client_id"},
		{func(c *Config) { c.Policy.Tokens.FirstPartyClientID = "01a23b58-b23c-7dba-acf2-4d24cd87a304" }, "first_party_client_id"},
	} {
		c := Default()
		tt.set(&c)
		err := c.Validate()
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("issuer %q, first party %q, tls %v: %v, want %q", c.Issuer(), c.Policy.Tokens.FirstPartyClientID, c.TLSCert != "", err, tt.want)
		}
	}
}

func TestMFAPolicy(t *testing.T) {
	c := Default()
	if c.Policy.MFA.Mode != MFAOptional || c.Policy.MFA.RecentAuth != Duration(10*time.Minute) ||
		c.Policy.MFA.ChallengeTTL != Duration(5*time.Minute) || c.Policy.MFA.ChallengeAttempts != 5 {
		t.Fatalf("MFA defaults = %+v", c.Policy.MFA)
	}
	for _, tc := range []struct {
		set  func(*MFAPolicy)
		want string
	}{
		{func(m *MFAPolicy) { m.Mode = "admins" }, "no administrator accounts"},
		{func(m *MFAPolicy) { m.Mode = "sometimes" }, "policy.mfa.mode"},
		{func(m *MFAPolicy) { m.Methods = []string{"sms"} }, "policy.mfa.methods"},
		{func(m *MFAPolicy) { m.Methods = nil }, "policy.mfa.methods"},
		{func(m *MFAPolicy) { m.RecentAuth = 0 }, "policy.mfa.recent_auth"},
		{func(m *MFAPolicy) { m.ChallengeTTL = Duration(time.Hour) }, "policy.mfa.challenge_ttl"},
		{func(m *MFAPolicy) { m.ChallengeAttempts = 0 }, "policy.mfa.challenge_attempts"},
		{func(m *MFAPolicy) { m.PerUserBurst = 0 }, "policy.mfa.per_user_burst"},
	} {
		c := Default()
		tc.set(&c.Policy.MFA)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate = %v, want an error naming %q", err, tc.want)
		}
	}
	c, err := Load("", []string{"TESSERA_POLICY_MFA_MODE=required", "TESSERA_POLICY_MFA_METHODS=totp"})
	if err != nil || c.Policy.MFA.Mode != MFARequired || !reflect.DeepEqual(c.Policy.MFA.Methods, []string{"totp"}) {
		t.Fatalf("env overlay = %+v, %v", c.Policy.MFA, err)
	}
}
