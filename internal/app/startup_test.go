package app_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tessera-auth/tessera/config"
	"github.com/tessera-auth/tessera/internal/app"
	"github.com/tessera-auth/tessera/store/sqlite"
)

// firstStart starts and stops a server on c once, as `tessera serve` does,
// leaving a store, an admin token and a master key behind.
func firstStart(t *testing.T, c config.Config) {
	t.Helper()
	a, err := app.New(context.Background(), c, app.Options{Access: app.Migrate})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestEmptyDatabaseBesideSecretsRefused (issue 10, R4): a 0-byte or
// missing tessera.db beside the master key and admin token of an earlier
// start is refused with a clear message, and nothing is created in its
// place; a first start is not affected.
func TestEmptyDatabaseBesideSecretsRefused(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name  string
		lose  func(db string) error
		state string
	}{
		{"empty", func(db string) error { return os.Truncate(db, 0) }, "empty (0 bytes)"},
		{"missing", os.Remove, "missing"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := testConfig(t)
			firstStart(t, c)
			db := filepath.Join(c.Data, "tessera.db")
			os.Remove(db + "-wal")
			os.Remove(db + "-shm")
			if err := tt.lose(db); err != nil {
				t.Fatal(err)
			}
			for _, access := range []app.Access{app.Migrate, app.Create} {
				_, err := app.New(ctx, c, app.Options{Access: access})
				if err == nil || !strings.Contains(err.Error(), tt.state) || !strings.Contains(err.Error(), "master-key") || !strings.Contains(err.Error(), "backup") {
					t.Fatalf("start (access %d) over a lost database: %v, want a refusal naming it", access, err)
				}
			}
			if fi, err := os.Stat(db); err == nil && fi.Size() != 0 {
				t.Fatal("a fresh store was created in place of the lost one")
			}
		})
	}
}

// TestProvisionedAdminTokenFirstStart: an admin token put in the data
// folder before the first start (a mounted secret) is not taken for the
// trace of a lost database.
func TestProvisionedAdminTokenFirstStart(t *testing.T) {
	c := testConfig(t)
	if err := os.MkdirAll(c.Data, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(c.Data, "admin-token"), []byte(adminToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	firstStart(t, c)
}

// TestMissingMasterKeyNotRegenerated (issue 10, R4): a store whose signing
// keys were sealed under a master key that is gone refuses to start, says
// to restore it, and leaves no new master key behind.
func TestMissingMasterKeyNotRegenerated(t *testing.T) {
	c := testConfig(t)
	firstStart(t, c)
	key := filepath.Join(c.Data, "master-key")
	if err := os.Remove(key); err != nil {
		t.Fatal(err)
	}
	_, err := app.New(context.Background(), c, app.Options{Access: app.Migrate})
	if err == nil || !strings.Contains(err.Error(), "restore the master key") {
		t.Fatalf("start without the master key: %v, want a refusal saying to restore it", err)
	}
	if _, err := os.Stat(key); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a new master key was left behind: %v", err)
	}
}

// TestWrongMasterKeyRefused: a master key that does not open the stored
// keys is named in the refusal.
func TestWrongMasterKeyRefused(t *testing.T) {
	c := testConfig(t)
	firstStart(t, c)
	t.Setenv("TESSERA_MASTER_KEY", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
	_, err := app.New(context.Background(), c, app.Options{Access: app.Migrate})
	if err == nil || !strings.Contains(err.Error(), "TESSERA_MASTER_KEY does not open") {
		t.Fatalf("start with another master key: %v", err)
	}
}

// TestDamagedDatabaseRefused (issue 10, R4): a server does not start on a
// database the integrity check finds damaged.
func TestDamagedDatabaseRefused(t *testing.T) {
	c := testConfig(t)
	firstStart(t, c)
	db := filepath.Join(c.Data, "tessera.db")
	// Damage the page of the signing keys' records, as a bad disk would.
	var page, size int64
	sdb, err := sql.Open("sqlite", db)
	if err != nil {
		t.Fatal(err)
	}
	err = sdb.QueryRow("SELECT pageno, pgsize FROM dbstat WHERE name = 'signing_keys' AND pagetype = 'leaf' LIMIT 1").Scan(&page, &size)
	sdb.Close()
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(db, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(bytes.Repeat([]byte{0xde, 0xad}, int(size/2)), (page-1)*size); err != nil {
		t.Fatal(err)
	}
	f.Close()
	_, err = app.New(context.Background(), c, app.Options{Access: app.Migrate})
	if !errors.Is(err, sqlite.ErrCorrupt) {
		t.Fatalf("start on a damaged database: %v, want sqlite.ErrCorrupt", err)
	}
}

// TestMasterKeyBesideData (issue 10, L7): outside development, a master key
// in the data folder is warned about at start; one from the environment
// or a file elsewhere is not.
func TestMasterKeyBesideData(t *testing.T) {
	for _, tt := range []struct {
		name string
		set  func(t *testing.T, c *config.Config)
		warn bool
	}{
		{"data folder", func(*testing.T, *config.Config) {}, true},
		{"development", func(_ *testing.T, c *config.Config) { c.InsecureDevCookies = true }, false},
		{"environment", func(t *testing.T, _ *config.Config) {
			t.Setenv("TESSERA_MASTER_KEY", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
		}, false},
		{"master_key_file elsewhere", func(t *testing.T, c *config.Config) {
			c.MasterKeyFile = filepath.Join(t.TempDir(), "master-key")
		}, false},
		{"master_key_file inside", func(t *testing.T, c *config.Config) {
			c.MasterKeyFile = filepath.Join(c.Data, "keys", "mk")
			os.MkdirAll(filepath.Join(c.Data, "keys"), 0o700)
		}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := testConfig(t)
			tt.set(t, &c)
			var logs bytes.Buffer
			a, err := app.New(context.Background(), c, app.Options{Access: app.Migrate, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			if got := strings.Contains(logs.String(), "beside the signing keys"); got != tt.warn {
				t.Fatalf("warned %v, want %v; logs:\n%s", got, tt.warn, logs.String())
			}
			if c.MasterKeyFile != "" {
				if a.Keyring.MasterSource != c.MasterKeyFile || !a.Keyring.MasterCreated {
					t.Fatalf("master key from %s (created %v), want generated into master_key_file", a.Keyring.MasterSource, a.Keyring.MasterCreated)
				}
			}
		})
	}
}
