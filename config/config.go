package config

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is everything `tessera serve` can be told. Every field's comment
// gives its default.
type Config struct {
	// Listen is the public API address. Default 127.0.0.1:8080.
	Listen string `yaml:"listen"`
	// AdminListen is the admin API address. Default 127.0.0.1:8081.
	AdminListen string `yaml:"admin_listen"`
	// Data is the folder of the embedded store and generated secrets. Default ./tessera-data.
	Data string `yaml:"data"`
	// Store is a store URL; empty means the embedded SQLite store in Data.
	Store string `yaml:"store"`
	// MasterKeyFile is the file holding the master key that seals the
	// signing keys (base64 of 32 bytes), when TESSERA_MASTER_KEY is not
	// set. Default empty: Data/master-key, beside the keys it seals. In
	// production keep it apart from the data folder (another volume, a
	// mounted secret) or use TESSERA_MASTER_KEY, so a copy of the data
	// folder does not hold both.
	MasterKeyFile string `yaml:"master_key_file"`
	// StoreDirect is a URL of the same PostgreSQL database that reaches the
	// server directly, for the connections that need a session of their
	// own: the revocation listener (LISTEN) and the migration lock (a
	// session-level advisory lock). Set it when store goes through a
	// pooler in transaction mode (PgBouncer). Default: the store URL.
	StoreDirect string `yaml:"store_direct"`
	// PublicOrigin is the browser-visible origin of the public API, such as
	// https://auth.example.com. CSRF checks compare Origin with it. Empty
	// means the origin is taken from the request (scheme and Host).
	PublicOrigin string `yaml:"public_origin"`
	// AllowedOrigins are further origins trusted to call the public API
	// from a browser: CORS with credentials on /v1 and /oauth2 (an SPA on
	// another origin), and cookie-authenticated state changes (same-site
	// front ends). A browser request from any other origin is refused
	// before it changes anything. Default none.
	AllowedOrigins []string `yaml:"allowed_origins"`
	// TrustedProxies are CIDRs whose X-Forwarded-For / Forwarded headers are
	// believed. Default none: the client IP is the TCP peer.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// ClientIPHeader is the one header trusted proxies write the client
	// address to: x-forwarded-for or forwarded (RFC 7239). The other is
	// ignored, since proxies pass it through from clients. Default x-forwarded-for.
	ClientIPHeader string `yaml:"client_ip_header"`
	// TLSCert and TLSKey are PEM files; when both are set the public
	// listener serves HTTPS. Default: plain HTTP (put TLS in front).
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
	// AdminTLSCert and AdminTLSKey are PEM files; when both are set the
	// admin listener serves HTTPS. Default: plain HTTP, which is why the
	// admin listener belongs on loopback (a warning says so otherwise).
	// Both listeners' certificates are read again when their files change
	// and on SIGHUP, without a restart.
	AdminTLSCert string `yaml:"admin_tls_cert"`
	AdminTLSKey  string `yaml:"admin_tls_key"`
	// MetricsListen is where GET /metrics is served: admin (on the admin
	// listener, without the admin token), a host:port of its own plain-HTTP
	// listener (for a scraper on another network), or off. Never on the
	// public listener. Default admin.
	MetricsListen string `yaml:"metrics_listen"`
	// InsecureDevCookies drops the Secure attribute and the __Host- prefix so
	// cookies work over plain http://localhost. Never in production. Default false.
	InsecureDevCookies bool `yaml:"insecure_dev_cookies"`
	// LogLevel is debug, info, warn or error. Default info.
	LogLevel string `yaml:"log_level"`
	// LogRequests writes one log line per HTTP request. Default false:
	// security events are always logged.
	LogRequests bool `yaml:"log_requests"`
	// Redis is the state the nodes of a cluster share through Redis.
	Redis RedisConfig `yaml:"redis"`
	// Policy is the session lifecycle policy.
	Policy Policy `yaml:"policy"`
	// ForwardAuth configures the forward-auth endpoint for reverse proxies.
	ForwardAuth ForwardAuth `yaml:"forward_auth"`
	// Audit is the audit log (config/audit.go).
	Audit Audit `yaml:"audit"`
	// WebAuthn is the WebAuthn relying party (config/webauthn.go).
	WebAuthn WebAuthnConfig `yaml:"webauthn"`
	// Detection is theft and attack detection (config/detection.go).
	Detection Detection `yaml:"detection"`
}

// RedisConfig is the optional Redis of a cluster: shared login throttles
// and known addresses, replay caches, and revocation fan-out. The store
// stays the truth; without Redis, or while it is down, each node throttles
// on its own and revocations travel by the feed (docs/operations.md).
type RedisConfig struct {
	// URL is redis://[user:password@]host:port[/db], rediss:// for TLS,
	// with ?addr=host:port (repeated) for a Cluster's further seeds, or
	// ?master_name=NAME for Sentinel (host and addr= are then sentinels).
	// Default empty: no Redis.
	URL string `yaml:"url"`
	// Prefix starts every key and channel name, so that deployments can
	// share one Redis. Default "tessera:".
	Prefix string `yaml:"prefix"`
}

// Policy is every lifetime, limit and rule that decides how sessions live.
// `tessera policy show` prints the effective one.
type Policy struct {
	Session  SessionPolicy  `yaml:"session"`
	Login    LoginPolicy    `yaml:"login"`
	Password PasswordPolicy `yaml:"password"`
	Cookie   CookiePolicy   `yaml:"cookie"`
	Keys     KeyPolicy      `yaml:"keys"`
	Tokens   TokenPolicy    `yaml:"tokens"`
	MFA      MFAPolicy      `yaml:"mfa"`
	Probe    ProbePolicy    `yaml:"probe"`
}

// ProbePolicy bounds token probing (issue 10, L4): failed token
// presentations drain per-address and per-client buckets; an empty one
// answers 429 with Retry-After until it refills.
type ProbePolicy struct {
	// BearerPerIPBurst bearer tokens refused as invalid or revoked (not expired)
	// from one client IP (IPv6 by /64) before throttling. Default 50.
	BearerPerIPBurst int `yaml:"bearer_per_ip_burst"`
	// BearerPerIPRefill is the time to regain one. Default 1s.
	BearerPerIPRefill Duration `yaml:"bearer_per_ip_refill"`
	// IntrospectPerClientBurst introspections answered inactive for one
	// client before throttling. Default 1000.
	IntrospectPerClientBurst int `yaml:"introspect_per_client_burst"`
	// IntrospectPerClientRefill is the time to regain one. Default 50ms.
	IntrospectPerClientRefill Duration `yaml:"introspect_per_client_refill"`
	// IntrospectPerIPBurst, likewise per client IP. Default 1000.
	IntrospectPerIPBurst int `yaml:"introspect_per_ip_burst"`
	// IntrospectPerIPRefill is the time to regain one. Default 50ms.
	IntrospectPerIPRefill Duration `yaml:"introspect_per_ip_refill"`
}

// TokenPolicy governs access and refresh tokens.
type TokenPolicy struct {
	// Issuer is the "iss" of access tokens. Default: public_origin, else
	// http://<listen>.
	Issuer string `yaml:"issuer"`
	// Audience is the "aud" of access tokens. Default: the issuer.
	Audience string `yaml:"audience"`
	// AccessTTL is the access-token lifetime. Default 15m.
	AccessTTL Duration `yaml:"access_ttl"`
	// RefreshTTL is how long a refresh token may go unused; each rotation
	// issues a new one. It is also the idle timeout of token sessions. Default 168h (7 days).
	RefreshTTL Duration `yaml:"refresh_ttl"`
	// SessionAbsolute ends a token session (its refresh family) this long
	// after login, however active. Default 336h (14 days).
	SessionAbsolute Duration `yaml:"session_absolute"`
	// RefreshGrace lets the same client retry a just-rotated refresh token
	// this long; 0 disables. Default 5s.
	RefreshGrace Duration `yaml:"refresh_grace"`
	// FirstPartyClientID is the client_id of Tessera's own login: a public
	// client allowed refresh tokens, which OAuth libraries name when they
	// refresh or revoke the tokens /v1/login delivered, and the client_id
	// claim of its access tokens. 1 to 64 of A-Z a-z 0-9 - . _ ~ (it
	// travels unencoded in forms and HTTP Basic), not a UUID (registered
	// clients' ids are). Default tessera.
	FirstPartyClientID string `yaml:"first_party_client_id"`
}

// KeyPolicy governs JWS signing keys.
type KeyPolicy struct {
	// Algorithm signs new keys: ES256, EdDSA or RS256. Default ES256.
	Algorithm string `yaml:"algorithm"`
	// RotationInterval rotates the active key when it is this old; 0 means
	// manual rotation only. Default 720h (30 days).
	RotationInterval Duration `yaml:"rotation_interval"`
	// RetiredTTL keeps a retired key published for verifiers; it must
	// outlast every token the key signed. Default 24h.
	RetiredTTL Duration `yaml:"retired_ttl"`
}

// SessionPolicy governs session lifetimes.
type SessionPolicy struct {
	// IdleTimeout ends a session not used for this long (sliding). Default 30m.
	IdleTimeout Duration `yaml:"idle_timeout"`
	// AbsoluteTimeout ends a session this long after login, however busy. Default 12h.
	AbsoluteTimeout Duration `yaml:"absolute_timeout"`
	// MaxPerUser caps a user's live sessions; a new login evicts the oldest. Default 10; 0 = no cap.
	MaxPerUser int `yaml:"max_per_user"`
	// TouchInterval is how often a busy session's last-seen time is written. Default 1m.
	TouchInterval Duration `yaml:"touch_interval"`
	// RevocationPoll is how often a node reads the revocation feed to drop
	// sessions revoked elsewhere (by the CLI or another node) from its cache:
	// the bound on cross-process revocation delay. Default 1s.
	RevocationPoll Duration `yaml:"revocation_poll"`
	// CacheSize is the most sessions a node keeps in memory. Default 200000.
	CacheSize int `yaml:"cache_size"`
}

// LoginPolicy governs password-guessing throttles. Each limit is a token
// bucket that only failed attempts drain.
type LoginPolicy struct {
	// PerIPBurst failed logins from one client IP (IPv6 by /64) before throttling. Default 20.
	PerIPBurst int `yaml:"per_ip_burst"`
	// PerIPRefill is the time to regain one attempt per IP. Default 6s.
	PerIPRefill Duration `yaml:"per_ip_refill"`
	// PerAccountIPBurst failed logins to one account from one IP. Default 5.
	PerAccountIPBurst int `yaml:"per_account_ip_burst"`
	// PerAccountIPRefill is the time to regain one. Default 1m.
	PerAccountIPRefill Duration `yaml:"per_account_ip_refill"`
	// PerAccountBurst failed logins to one account from all IPs together. Default 50.
	PerAccountBurst int `yaml:"per_account_burst"`
	// PerAccountRefill is the time to regain one. Default 30s. Because the
	// bucket refills, a distributed attack slows a user's logins but cannot lock them out for good.
	PerAccountRefill Duration `yaml:"per_account_refill"`
}

// PasswordPolicy governs password hashing and acceptance (NIST SP 800-63B).
type PasswordPolicy struct {
	// MinLength in Unicode code points. Default 8.
	MinLength int `yaml:"min_length"`
	// MaxLength in Unicode code points (at least 64). Default 128.
	MaxLength int `yaml:"max_length"`
	// Argon2Memory is argon2id's memory in KiB. Default 19456 (OWASP).
	Argon2Memory uint32 `yaml:"argon2_memory_kib"`
	// Argon2Iterations is argon2id's time cost. Default 2.
	Argon2Iterations uint32 `yaml:"argon2_iterations"`
	// Argon2Parallelism is argon2id's lanes. Default 1.
	Argon2Parallelism uint8 `yaml:"argon2_parallelism"`
	// MaxConcurrentHashes bounds hashing memory under a login flood. Default 0 = number of CPUs.
	MaxConcurrentHashes int `yaml:"max_concurrent_hashes"`
	// MaxQueuedHashes bounds the logins waiting for a hashing slot; one more
	// is answered 503 with Retry-After at once. Default 0 = 16 per slot.
	MaxQueuedHashes int `yaml:"max_queued_hashes"`
}

// CookiePolicy governs the session cookie.
type CookiePolicy struct {
	// SameSite is lax or strict. Default lax.
	SameSite string `yaml:"same_site"`
}

// Default returns the configuration with every default filled in.
func Default() Config {
	return Config{
		Listen:         "127.0.0.1:8080",
		AdminListen:    "127.0.0.1:8081",
		Data:           "./tessera-data",
		LogLevel:       "info",
		ClientIPHeader: "x-forwarded-for",
		Redis:          RedisConfig{Prefix: "tessera:"},
		MetricsListen:  "admin",
		ForwardAuth:    DefaultForwardAuth(),
		Detection:      DefaultDetection(),
		Policy: Policy{
			Session: SessionPolicy{
				IdleTimeout:     Duration(30 * time.Minute),
				AbsoluteTimeout: Duration(12 * time.Hour),
				MaxPerUser:      10,
				TouchInterval:   Duration(time.Minute),
				RevocationPoll:  Duration(time.Second),
				CacheSize:       200000,
			},
			Login: LoginPolicy{
				PerIPBurst:         20,
				PerIPRefill:        Duration(6 * time.Second),
				PerAccountIPBurst:  5,
				PerAccountIPRefill: Duration(time.Minute),
				PerAccountBurst:    50,
				PerAccountRefill:   Duration(30 * time.Second),
			},
			Password: PasswordPolicy{
				MinLength:         8,
				MaxLength:         128,
				Argon2Memory:      19456,
				Argon2Iterations:  2,
				Argon2Parallelism: 1,
			},
			Cookie: CookiePolicy{SameSite: "lax"},
			Probe: ProbePolicy{
				BearerPerIPBurst: 50, BearerPerIPRefill: Duration(time.Second),
				IntrospectPerClientBurst: 1000, IntrospectPerClientRefill: Duration(50 * time.Millisecond),
				IntrospectPerIPBurst: 1000, IntrospectPerIPRefill: Duration(50 * time.Millisecond),
			},
			Tokens: TokenPolicy{
				AccessTTL:          Duration(15 * time.Minute),
				RefreshTTL:         Duration(7 * 24 * time.Hour),
				SessionAbsolute:    Duration(14 * 24 * time.Hour),
				RefreshGrace:       Duration(5 * time.Second),
				FirstPartyClientID: "tessera",
			},
			Keys: KeyPolicy{
				Algorithm:        "ES256",
				RotationInterval: Duration(30 * 24 * time.Hour),
				RetiredTTL:       Duration(24 * time.Hour),
			},
			MFA: defaultMFA(),
		},
	}
}

// Validate reports every problem with c at once.
func (c Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	for field, addr := range map[string]string{"listen": c.Listen, "admin_listen": c.AdminListen} {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			bad(field, "%q is not host:port", addr)
		}
	}
	if _, port, _ := net.SplitHostPort(c.Listen); c.Listen == c.AdminListen && port != "0" {
		bad("admin_listen", "must differ from listen")
	}
	if c.Store == "" && c.Data == "" {
		bad("data", "must be set when store is empty")
	}
	if c.Store != "" {
		// The URL may hold a password: messages describe it, never quote it.
		u, err := url.Parse(c.Store)
		switch {
		case err != nil:
			// Not even the parser's reason: it may quote a part of the
			// URL ("invalid port \":secret\"").
			bad("store", "does not parse as a URL; want sqlite:PATH or postgres://…")
		case (u.Scheme != "sqlite" && u.Scheme != "postgres" && u.Scheme != "postgresql"):
			bad("store", "want sqlite:PATH or postgres://…")
		case u.Scheme != "sqlite" && u.Opaque != "":
			bad("store", "want postgres://[user[:password]@]host[:port]/database")
		}
	}
	if c.Redis.URL != "" {
		// Like the store URL, it may hold a password: never quoted.
		u, err := url.Parse(c.Redis.URL)
		switch {
		case err != nil:
			bad("redis.url", "does not parse as a URL; want redis://host:port or rediss://…")
		case u.Scheme != "redis" && u.Scheme != "rediss":
			bad("redis.url", "want redis://host:port or rediss://…")
		case u.Opaque != "" || u.Host == "":
			bad("redis.url", "want redis[s]://[user[:password]@]host[:port][/db][?…]")
		}
	}
	if p := c.Redis.Prefix; len(p) == 0 || len(p) > 64 || strings.ContainsAny(p, "{} \t\r\n") {
		// Braces would choose a Redis Cluster hash slot for every key.
		bad("redis.prefix", "must be 1 to 64 characters without spaces or braces")
	}
	if c.StoreDirect != "" {
		u, err := url.Parse(c.StoreDirect)
		switch {
		case err != nil:
			bad("store_direct", "does not parse as a URL; want postgres://…")
		case u.Scheme != "postgres" && u.Scheme != "postgresql", u.Opaque != "":
			bad("store_direct", "want postgres://[user[:password]@]host[:port]/database")
		case !strings.HasPrefix(c.Store, "postgres"):
			bad("store_direct", "needs a postgres:// store")
		}
	}
	for _, o := range append([]string{c.PublicOrigin}, c.AllowedOrigins...) {
		if o == "" {
			continue
		}
		if u, err := url.Parse(o); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Path != "" {
			bad("public_origin/allowed_origins", "%q is not an origin like https://host[:port]", o)
		}
	}
	for _, p := range c.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err != nil {
			bad("trusted_proxies", "%q is not a CIDR", p)
		}
	}
	if c.ClientIPHeader != "x-forwarded-for" && c.ClientIPHeader != "forwarded" {
		bad("client_ip_header", "%q is not x-forwarded-for or forwarded", c.ClientIPHeader)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		bad("tls_cert/tls_key", "set both or neither")
	}
	if (c.AdminTLSCert == "") != (c.AdminTLSKey == "") {
		bad("admin_tls_cert/admin_tls_key", "set both or neither")
	}
	switch m := c.MetricsListen; m {
	case "admin", "off", "": // empty: admin, for a Config not made by Default
	default:
		if _, port, err := net.SplitHostPort(m); err != nil {
			bad("metrics_listen", "%q is not admin, off or host:port", m)
		} else if port != "0" && (m == c.Listen || m == c.AdminListen) {
			bad("metrics_listen", "must differ from listen and admin_listen (say admin to serve it there)")
		}
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("log_level", "%q is not debug, info, warn or error", c.LogLevel)
	}

	s := c.Policy.Session
	if s.IdleTimeout < Duration(time.Minute) {
		bad("policy.session.idle_timeout", "must be at least 1m")
	}
	if s.AbsoluteTimeout < s.IdleTimeout {
		bad("policy.session.absolute_timeout", "must be at least idle_timeout")
	}
	if s.AbsoluteTimeout > Duration(90*24*time.Hour) {
		bad("policy.session.absolute_timeout", "must be at most 90 days")
	}
	if s.MaxPerUser < 0 {
		bad("policy.session.max_per_user", "must be 0 (no cap) or more")
	}
	if s.TouchInterval <= 0 || s.TouchInterval > s.IdleTimeout/2 {
		bad("policy.session.touch_interval", "must be positive and at most half of idle_timeout")
	}
	if s.RevocationPoll < Duration(50*time.Millisecond) || s.RevocationPoll > Duration(time.Minute) {
		bad("policy.session.revocation_poll", "must be between 50ms and 1m")
	}
	if s.CacheSize < 0 {
		bad("policy.session.cache_size", "must be 0 (no cache) or more")
	}

	l := c.Policy.Login
	for name, v := range map[string]int{"per_ip_burst": l.PerIPBurst, "per_account_ip_burst": l.PerAccountIPBurst, "per_account_burst": l.PerAccountBurst} {
		if v < 1 {
			bad("policy.login."+name, "must be at least 1")
		}
	}
	for name, v := range map[string]Duration{"per_ip_refill": l.PerIPRefill, "per_account_ip_refill": l.PerAccountIPRefill, "per_account_refill": l.PerAccountRefill} {
		if v <= 0 || v > Duration(24*time.Hour) {
			bad("policy.login."+name, "must be positive and at most 24h")
		}
	}
	pp := c.Policy.Probe
	for name, v := range map[string]int{"bearer_per_ip_burst": pp.BearerPerIPBurst, "introspect_per_client_burst": pp.IntrospectPerClientBurst, "introspect_per_ip_burst": pp.IntrospectPerIPBurst} {
		if v < 1 {
			bad("policy.probe."+name, "must be at least 1")
		}
	}
	for name, v := range map[string]Duration{"bearer_per_ip_refill": pp.BearerPerIPRefill, "introspect_per_client_refill": pp.IntrospectPerClientRefill, "introspect_per_ip_refill": pp.IntrospectPerIPRefill} {
		if v <= 0 || v > Duration(24*time.Hour) {
			bad("policy.probe."+name, "must be positive and at most 24h")
		}
	}

	p := c.Policy.Password
	if p.MinLength < 8 {
		bad("policy.password.min_length", "must be at least 8 (NIST SP 800-63B)")
	}
	if p.MaxLength < 64 || p.MaxLength < p.MinLength || p.MaxLength > 1024 {
		bad("policy.password.max_length", "must be between 64 and 1024 and at least min_length")
	}
	if p.MaxConcurrentHashes < 0 {
		bad("policy.password.max_concurrent_hashes", "must be 0 (number of CPUs) or more")
	}
	if p.MaxQueuedHashes < 0 {
		bad("policy.password.max_queued_hashes", "must be 0 (16 per hashing slot) or more")
	}
	switch c.Policy.Cookie.SameSite {
	case "lax", "strict":
	default:
		bad("policy.cookie.same_site", "%q is not lax or strict", c.Policy.Cookie.SameSite)
	}
	k := c.Policy.Keys
	switch k.Algorithm {
	case "ES256", "EdDSA", "RS256":
	default:
		bad("policy.keys.algorithm", "%q is not ES256, EdDSA or RS256", k.Algorithm)
	}
	if k.RotationInterval != 0 && k.RotationInterval < Duration(time.Hour) {
		bad("policy.keys.rotation_interval", "must be 0 (manual only) or at least 1h")
	}
	tp := c.Policy.Tokens
	if tp.AccessTTL < Duration(time.Minute) || tp.AccessTTL > Duration(24*time.Hour) {
		bad("policy.tokens.access_ttl", "must be between 1m and 24h")
	}
	if k.RetiredTTL < tp.AccessTTL {
		bad("policy.keys.retired_ttl", "must be at least policy.tokens.access_ttl: retired keys must outlast the tokens they signed")
	}
	if tp.RefreshTTL < Duration(time.Hour) || tp.SessionAbsolute < tp.RefreshTTL || tp.SessionAbsolute > Duration(365*24*time.Hour) {
		bad("policy.tokens.refresh_ttl/session_absolute", "want 1h <= refresh_ttl <= session_absolute <= 365 days")
	}
	if tp.RefreshGrace < 0 || tp.RefreshGrace > Duration(time.Minute) {
		bad("policy.tokens.refresh_grace", "must be between 0 and 1m")
	}
	if id := tp.FirstPartyClientID; len(id) < 1 || len(id) > 64 || strings.Trim(id, unreserved) != "" || isUUID(id) {
		bad("policy.tokens.first_party_client_id", "%q: want 1 to 64 of A-Z a-z 0-9 - . _ ~, and not a UUID (registered clients have those)", id)
	}
	c.validateIssuer(bad)
	c.ForwardAuth.validate(bad)
	c.Policy.MFA.validate(bad)
	c.WebAuthn.validate(c.PublicOrigin, bad)
	c.Detection.validate(bad)
	return errors.Join(errs...)
}

// unreserved are RFC 3986's unreserved characters: the ones form
// encoding (RFC 6749 §2.3.1) leaves as they are.
const unreserved = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"

// isUUID reports whether s is spelt as a UUID (8-4-4-4-12 hex digits).
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return false
			}
		case !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'):
			return false
		}
	}
	return true
}

// validateIssuer checks the issuer (RFC 8414 §2: an https URL with no
// query or fragment; http is for development behind no TLS at all). When
// Tessera serves TLS itself the issuer is https: an http issuer would put
// http:// endpoint URLs in the metadata, and clients that follow them
// would send tokens in the clear or fail the iss comparison.
func (c Config) validateIssuer(bad func(field, format string, args ...any)) {
	field := "policy.tokens.issuer"
	if c.Policy.Tokens.Issuer == "" {
		field = "public_origin"
	}
	iss := c.Issuer()
	u, err := url.Parse(iss)
	switch {
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil:
		bad(field, "issuer %q is not an https:// URL", iss)
		return
	case u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(iss, "?") || strings.HasSuffix(iss, "#"):
		bad(field, "issuer %q has a query or fragment (RFC 8414 §2)", iss)
	case strings.HasSuffix(u.Path, "/"):
		bad(field, "issuer %q ends in /: iss is compared as a string, and endpoint URLs are the issuer plus /oauth2/…", iss)
	}
	if c.TLSCert != "" && u.Scheme != "https" {
		bad(field, "issuer %q must be https:// when Tessera serves TLS (tls_cert)", iss)
	}
}

// Load returns the defaults, overlaid by the YAML file at path (if path is
// not empty), overlaid by TESSERA_* variables from env, and validated.
// Unknown keys in the file are errors: a misspelt timeout must not silently
// fall back to its default.
func Load(path string, env []string) (Config, error) {
	c, _, err := LoadSources(path, env)
	return c, err
}

// EnvPrefix starts every environment variable that overrides the config.
const EnvPrefix = "TESSERA_"

// EnvNames lists every variable applyEnv understands, for documentation.
func EnvNames() []string {
	var names []string
	walk(reflect.ValueOf(&Config{}).Elem(), EnvPrefix, func(name string, _ reflect.Value) {
		names = append(names, name)
	})
	return names
}

// applyEnv sets each field whose variable is present: the yaml key path in
// upper case joined by underscores, such as TESSERA_POLICY_SESSION_IDLE_TIMEOUT,
// and records it in src. A TESSERA_* variable that is neither a setting nor
// one of OtherEnv is an error: a misspelt timeout must not silently fall
// back to its default.
func applyEnv(c *Config, env []string, src Sources) error {
	vars := map[string]string{}
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, EnvPrefix) {
			vars[k] = v
		}
	}
	var errs []error
	known := map[string]bool{}
	fields(reflect.ValueOf(c).Elem(), "", EnvPrefix, func(key, name string, f reflect.Value) {
		known[name] = true
		s, ok := vars[name]
		if !ok {
			return
		}
		if err := setFromString(f, s); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			return
		}
		src[key] = SourceEnv
	})
	errs = append(errs, unknownEnv(vars, known))
	return errors.Join(errs...)
}

func walk(v reflect.Value, prefix string, fn func(name string, f reflect.Value)) {
	t := v.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		key, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		if key == "" || key == "-" {
			continue
		}
		name := prefix + strings.ToUpper(key)
		f := v.Field(i)
		if f.Kind() == reflect.Struct {
			walk(f, name+"_", fn)
			continue
		}
		fn(name, f)
	}
}

var durationType = reflect.TypeFor[Duration]()

func setFromString(f reflect.Value, s string) error {
	if f.Type() == durationType {
		d, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		f.SetInt(int64(d))
		return nil
	}
	switch f.Kind() {
	case reflect.String:
		f.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return err
		}
		f.SetBool(b)
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return err
		}
		f.SetInt(n)
	case reflect.Uint8, reflect.Uint32:
		n, err := strconv.ParseUint(s, 10, f.Type().Bits())
		if err != nil {
			return err
		}
		f.SetUint(n)
	case reflect.Slice:
		if f.Type().Elem().Kind() != reflect.String {
			return fmt.Errorf("unsupported type %s: set it in the config file", f.Type())
		}
		var parts []string
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				parts = append(parts, p)
			}
		}
		f.Set(reflect.ValueOf(parts))
	default:
		return fmt.Errorf("unsupported type %s", f.Type())
	}
	return nil
}

// PolicyYAML renders the policy as the YAML a config file would hold.
func (p Policy) YAML() ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(struct {
		Policy Policy `yaml:"policy"`
	}{p}); err != nil {
		return nil, err
	}
	return buf.Bytes(), enc.Close()
}

// Issuer returns the access-token issuer: tokens.issuer, else public_origin,
// else https://<listen> when Tessera serves TLS, else http://<listen>.
func (c Config) Issuer() string {
	switch {
	case c.Policy.Tokens.Issuer != "":
		return c.Policy.Tokens.Issuer
	case c.PublicOrigin != "":
		return c.PublicOrigin
	case c.TLSCert != "":
		// Tessera serves TLS itself: so does its issuer.
		return "https://" + c.Listen
	}
	return "http://" + c.Listen
}

// Audience returns the access-token audience: tokens.audience, else the issuer.
func (c Config) Audience() string {
	if c.Policy.Tokens.Audience != "" {
		return c.Policy.Tokens.Audience
	}
	return c.Issuer()
}
