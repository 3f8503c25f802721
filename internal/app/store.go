package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/tessera-auth/tessera/config"
	"github.com/tessera-auth/tessera/store"

	// The backends register their schemes with store.Open: "sqlite" (the
	// embedded store) and "postgres"/"postgresql".
	_ "github.com/tessera-auth/tessera/store/postgres"
	_ "github.com/tessera-auth/tessera/store/sqlite"
)

// Access says what opening a store may do besides opening it.
type Access int

const (
	// Existing opens a store that exists at this binary's schema and
	// creates nothing, not even the data folder: a mistyped --data is an
	// error, never a fresh, empty store. Read-only commands use it.
	Existing Access = iota
	// Create is Existing, except that a missing database is created at
	// the latest schema, in a data folder (or, for --store sqlite:PATH,
	// PATH's folder) that already exists: a folder that does not is a
	// mistyped path, an error (ErrNoDataFolder), never a fresh store.
	// Commands that add records use it, so `tessera user add` can be the
	// first command run in a folder made for it. An existing store with an
	// older schema is refused, as with Existing.
	Create
	// Migrate creates a missing store (the data folder, or a sqlite:
	// PATH's folder, mode 0700) and applies pending migrations, under the
	// backend's migration lock: `tessera serve` and `tessera migrate`.
	Migrate
)

// ErrNoDataFolder: a command that may create a database (Create) was
// pointed at a folder that does not exist.
var ErrNoDataFolder = errors.New("no such data folder")

// An administrative command never migrates an existing store. Upgrading
// the schema under servers still running the previous version is an
// operator's decision, taken once (`tessera migrate`, or restarting
// `tessera serve` on the new version), not a side effect of adding a user
// with a newer binary; Hydra's and Kratos's `migrate sql` work the same way.

// StoreInfo describes the store OpenStore opened.
type StoreInfo struct {
	// URL is the store URL opened: config.Store, or sqlite:DATA/tessera.db.
	URL string
	// Location is where the data is, for people: the file of a sqlite: URL.
	Location string
	// Schema is the schema's status once open (Current == Latest).
	Schema store.SchemaStatus
	// Applied lists the migrations applied while opening, in order.
	Applied []int
	// CheckWarning says that the start-up check (Migrate only) could not
	// finish in its bound; empty when it did, or did not run.
	CheckWarning string
}

// StoreURL returns the store URL c names: its Store, or the embedded
// SQLite database in its data folder.
func StoreURL(c config.Config) string {
	if c.Store != "" {
		return c.Store
	}
	return "sqlite:" + filepath.Join(c.Data, "tessera.db")
}

// Location says where c's store is, for people and logs: the file of a
// sqlite: URL, or the URL without its password.
func Location(c config.Config) string {
	u := StoreURL(c)
	if p, ok := strings.CutPrefix(u, "sqlite:"); ok && !strings.HasPrefix(p, "//") {
		return p
	}
	return store.Redact(u)
}

// OpenStore opens the store c names, doing what access allows; its errors
// say what to do (check --data, run tessera migrate, upgrade tessera).
func OpenStore(ctx context.Context, c config.Config, access Access) (store.Store, StoreInfo, error) {
	url := StoreURL(c)
	info := StoreInfo{URL: url, Location: Location(c)}
	if c.Store == "" {
		if err := privateFolder(c.Data); err != nil {
			return nil, info, err
		}
	}
	if err := lostDatabase(c, url, access); err != nil {
		return nil, info, err
	}
	if access != Existing {
		if err := storeFolder(c, url, access); err != nil {
			return nil, info, err
		}
		// The migration lock is a session's: through a transaction-mode
		// pooler it needs the direct URL.
		murl := url
		if c.StoreDirect != "" {
			murl = c.StoreDirect
		}
		m, err := store.OpenMigrator(ctx, murl)
		if err != nil {
			return nil, info, err
		}
		info.Schema, err = m.SchemaStatus(ctx)
		// Create initialises only a store no migrator has touched yet:
		// nothing can depend on an empty schema.
		if err == nil && (access == Migrate || info.Schema.Current == 0) {
			info.Applied, err = m.Migrate(ctx)
		}
		if cerr := m.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, info, explain(err, c)
		}
	}
	st, err := store.Open(ctx, url)
	if err != nil {
		return nil, info, explain(err, c)
	}
	// A server must not start on a damaged or read-only store: it would
	// report ready and then fail every login.
	if access == Migrate {
		if err := st.Check(ctx); errors.Is(err, store.ErrCheckIncomplete) {
			info.CheckWarning = err.Error()
		} else if err != nil {
			st.Close()
			return nil, info, err
		}
	}
	// store.Open succeeds only at the binary's schema.
	info.Schema.Current = info.Schema.Latest
	if sv, ok := st.(interface {
		SchemaStatus(context.Context) (store.SchemaStatus, error)
	}); ok {
		if info.Schema, err = sv.SchemaStatus(ctx); err != nil {
			st.Close()
			return nil, info, err
		}
	}
	return st, info, nil
}

// storeFolder makes sure the folder a new embedded database goes into
// exists: Migrate creates it (0700); Create only accepts an existing one,
// so a mistyped path is an error rather than a fresh, empty store.
func storeFolder(c config.Config, url string, access Access) error {
	dir, flag := c.Data, "--data"
	if c.Store != "" {
		p, ok := strings.CutPrefix(url, "sqlite:")
		if !ok || p == "" || strings.HasPrefix(p, "//") {
			return nil // not a file: the backend says what is wrong
		}
		dir, flag = filepath.Dir(p), "--store"
	}
	if access == Migrate {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("data folder: %w", err)
		}
		return nil
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return fmt.Errorf("%w: %s (check %s; `tessera serve` or `tessera migrate` creates a new store)", ErrNoDataFolder, dir, flag)
	}
	return nil
}

// privateFolder makes an existing data folder its owner's only (0700):
// it holds the database, the admin token and the master key. Earlier
// versions left it as the umask made it, so a looser folder is tightened,
// not refused: the fault was ours, and refusing would stop every existing
// installation at its first start after an upgrade. (The database files
// themselves are tightened by the sqlite backend on open.) A shared
// folder — writable by others, as /tmp is — is refused instead: it is not
// Tessera's to change, and anyone could replace the files in it.
func privateFolder(dir string) error {
	fi, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // created 0700 by whoever needs it
	}
	if err != nil {
		return fmt.Errorf("data folder: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("data folder %s is not a folder", dir)
	}
	perm := fi.Mode().Perm()
	if perm&0o002 != 0 || fi.Mode()&fs.ModeSticky != 0 {
		return fmt.Errorf("data folder %s is shared (mode %v, writable by others): it holds the database and secrets; give tessera a folder of its own (--data)", dir, fi.Mode())
	}
	if perm&0o077 != 0 {
		if err := os.Chmod(dir, perm&^0o077); err != nil {
			return fmt.Errorf("data folder %s is readable by others (mode %v) and could not be made private: %w", dir, perm, err)
		}
	}
	return nil
}

// lostDatabase refuses to create a fresh store where one existed: an
// embedded database that is missing (unless access creates nothing anyway)
// or empty (0 bytes, as a failed copy or a full disk leaves it) beside the
// master key or admin token an earlier start wrote into the data folder.
// Starting would silently make a brand-new, empty store: no users, no
// sessions, no clients, and signing keys under a new key, so every token
// issued before is refused.
func lostDatabase(c config.Config, url string, access Access) error {
	p, ok := strings.CutPrefix(url, "sqlite:")
	if !ok || p == "" {
		return nil
	}
	fi, err := os.Stat(p)
	state := "is missing"
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if access == Existing {
			return nil // refused as ErrNoDatabase, creating nothing
		}
	case err != nil || fi.Size() != 0:
		return nil // opening says what is wrong, if anything
	default:
		state = "is empty (0 bytes)"
	}
	var held []string
	for _, name := range []string{"master-key", "admin-token"} {
		if _, err := os.Stat(filepath.Join(c.Data, name)); err == nil {
			held = append(held, filepath.Join(c.Data, name))
		}
	}
	// A missing database beside only an admin token may be a first start
	// with the token provisioned ahead (a mounted secret); the master key
	// in the data folder is written only by a start that created the store.
	// An empty file is never a store's state once a secret is there.
	if len(held) == 0 || fi == nil && !strings.HasSuffix(held[0], "master-key") {
		return nil // a first start (or one that stopped before writing anything)
	}
	return fmt.Errorf("the database %s %s, but %s from an earlier start exist: the database was lost or truncated, and starting would create an empty store (no users, sessions, clients or signing keys). Restore the database from a backup; to start afresh on purpose, move the data folder aside", p, state, strings.Join(held, " and "))
}

// explain adds to a store error what the user can do about it.
func explain(err error, c config.Config) error {
	switch {
	case errors.Is(err, store.ErrNoDatabase):
		if c.Store != "" && !strings.HasPrefix(c.Store, "sqlite:") {
			return fmt.Errorf("%w (check --store %s; create the database, then run `tessera migrate`)", err, Location(c))
		}
		where := "--data " + c.Data
		if c.Store != "" {
			where = "--store " + c.Store
		}
		return fmt.Errorf("%w (check %s; `tessera migrate` or `tessera serve` creates a store)", err, where)
	case errors.Is(err, store.ErrSchemaOutdated):
		return fmt.Errorf("%w: run `tessera migrate`", err)
	case errors.Is(err, store.ErrSchemaNewer):
		return fmt.Errorf("%w: use a tessera at least as new as the one that migrated it", err)
	}
	return err
}
