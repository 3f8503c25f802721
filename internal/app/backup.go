package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/tessera-auth/tessera/config"
	"github.com/tessera-auth/tessera/keys"
	"github.com/tessera-auth/tessera/store"
)

// ErrNoOnlineBackup: the store has no snapshot of its own to take
// (PostgreSQL: pg_dump takes it; see PgDumpGuidance).
var ErrNoOnlineBackup = errors.New("this store is backed up with its own tools")

// onlineBackup is a store that snapshots itself while in use (the SQLite
// backend's VACUUM INTO).
type onlineBackup interface {
	Backup(ctx context.Context, path string) error
}

// Backup writes a consistent snapshot of st to path while servers keep
// using it. The snapshot holds the signing keys sealed under the master
// key, never the master key, nor the admin token.
func Backup(ctx context.Context, st store.Store, path string) error {
	b, ok := st.(onlineBackup)
	if !ok {
		return ErrNoOnlineBackup
	}
	return b.Backup(ctx, path)
}

// IsSQLite reports whether c's store is the embedded SQLite database.
func IsSQLite(c config.Config) bool {
	_, ok := sqlitePath(StoreURL(c))
	return ok
}

func sqlitePath(url string) (string, bool) {
	p, ok := strings.CutPrefix(url, "sqlite:")
	return p, ok && p != "" && !strings.HasPrefix(p, "//")
}

// PgDumpGuidance says how to back up and restore a PostgreSQL store.
const PgDumpGuidance = `A PostgreSQL store is backed up with PostgreSQL's own tools, which take a
consistent snapshot while Tessera runs:

  pg_dump --format=custom --schema=SCHEMA --file=tessera.dump "$DATABASE_URL"

and restored into an empty database (servers stopped) with

  pg_restore --no-owner --dbname="$DATABASE_URL" tessera.dump
  tessera migrate --store "$DATABASE_URL"

The dump holds the signing keys sealed under the master key, not the master
key: back the master key up apart, and restore it first.`

// RestoreInfo says what Restore put in place.
type RestoreInfo struct {
	Location     string             // the database file restored
	Schema       store.SchemaStatus // after restoring (Current == Latest)
	Applied      []int              // migrations applied to an older backup
	MasterSource string             // where the master key that opens it came from
	SigningKeys  int
}

// Restore puts the SQLite backup file in place as c's database. It refuses
// a target that is not empty (a database, its WAL, or anything in the data
// folder besides the master key and admin token): a running server always
// has its database there, and a restore never overwrites data. Before the
// database takes its place it checks, on a copy: that file is a Tessera
// database with a schema this binary knows (an older one is migrated, a
// newer one refused), and that the master key (TESSERA_MASTER_KEY,
// master_key_file or DATA/master-key, never created here) opens its
// signing keys. A failed restore leaves nothing behind.
func Restore(ctx context.Context, c config.Config, file string) (RestoreInfo, error) {
	db, ok := sqlitePath(StoreURL(c))
	if !ok {
		return RestoreInfo{}, fmt.Errorf("restore writes the embedded SQLite store only; for PostgreSQL:\n%s", PgDumpGuidance)
	}
	info := RestoreInfo{Location: db}
	if err := restoreTarget(c, db); err != nil {
		return info, err
	}
	src, err := os.Open(file)
	if err != nil {
		return info, fmt.Errorf("backup: %w", err)
	}
	defer src.Close()
	dir := filepath.Dir(db)
	_, statErr := os.Stat(dir)
	madeDir := errors.Is(statErr, fs.ErrNotExist)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return info, fmt.Errorf("data folder: %w", err)
	}
	tmp := db + ".restoring"
	done := false
	defer func() {
		if !done {
			for _, suffix := range []string{"", "-wal", "-shm"} {
				os.Remove(tmp + suffix)
			}
			if madeDir {
				os.Remove(dir)
			}
		}
	}()
	if err := copyPrivate(tmp, src); err != nil {
		return info, err
	}
	if info, err = checkRestored(ctx, c, tmp, info); err != nil {
		return info, err
	}
	// The copy was opened (and maybe migrated) under its temporary name;
	// its WAL was checkpointed away on close, so the file alone is whole.
	if err := os.Rename(tmp, db); err != nil {
		return info, err
	}
	done = true
	return info, syncFile(dir)
}

// restoreTarget refuses to restore over anything.
func restoreTarget(c config.Config, db string) error {
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if _, err := os.Lstat(db + suffix); err == nil {
			return fmt.Errorf("%s exists: restore only into an empty data folder, with no server running on it (move the current data aside first)", db+suffix)
		}
	}
	if c.Store != "" {
		return nil
	}
	ents, err := os.ReadDir(c.Data)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("data folder: %w", err)
	}
	for _, e := range ents {
		if !slices.Contains([]string{"master-key", "admin-token"}, e.Name()) {
			return fmt.Errorf("data folder %s is not empty (%s): restore only into an empty data folder (the master key and admin token may be there)", c.Data, e.Name())
		}
	}
	return privateFolder(c.Data)
}

// checkRestored opens the copy at path: schema, then the master key.
func checkRestored(ctx context.Context, c config.Config, path string, info RestoreInfo) (RestoreInfo, error) {
	url := "sqlite:" + path
	m, err := store.OpenMigrator(ctx, url)
	if err != nil {
		return info, fmt.Errorf("not a readable SQLite database: %w", err)
	}
	st, err := m.SchemaStatus(ctx)
	if err == nil && st.Current == 0 {
		err = errors.New("not a Tessera backup (no schema)")
	}
	if err == nil && st.Current > st.Latest {
		err = fmt.Errorf("%w (backup at version %d, this tessera knows %d): use a tessera at least as new as the one that made it", store.ErrSchemaNewer, st.Current, st.Latest)
	}
	if err == nil && st.Current < st.Latest {
		info.Applied, err = m.Migrate(ctx)
	}
	if cerr := m.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return info, err
	}
	s, err := store.Open(ctx, url)
	if err != nil {
		return info, err
	}
	defer s.Close()
	if err := s.Check(ctx); err != nil && !errors.Is(err, store.ErrCheckIncomplete) {
		return info, fmt.Errorf("the backup is damaged: %w", err)
	}
	stored, err := s.ListSigningKeys(ctx)
	if err != nil {
		return info, err
	}
	info.SigningKeys = len(stored)
	if len(stored) > 0 {
		mk, source, err := MasterKey(c)
		if errors.Is(err, errNoMasterKey) {
			return info, fmt.Errorf("the backup holds %d signing keys sealed under a master key, and there is none (%w): put the master key in place first (TESSERA_MASTER_KEY, master_key_file, or %s)", len(stored), err, MasterKeyPath(c))
		}
		if err != nil {
			return info, err
		}
		ks, err := keys.New(s, mk, keys.Config{Alg: c.Policy.Keys.Algorithm, RetiredTTL: c.Policy.Keys.RetiredTTL.D()})
		if err == nil {
			err = ks.Load(ctx)
		}
		if errors.Is(err, keys.ErrMasterKey) {
			return info, fmt.Errorf("the master key from %s does not open the backup's signing keys: %w (use the key they were sealed under)", source, err)
		}
		if err != nil {
			return info, err
		}
		info.MasterSource = source
	}
	if sv, ok := s.(interface {
		SchemaStatus(context.Context) (store.SchemaStatus, error)
	}); ok {
		if info.Schema, err = sv.SchemaStatus(ctx); err != nil {
			return info, err
		}
	}
	return info, nil
}

// copyPrivate copies src to a new file at path (mode 0600) and syncs it.
func copyPrivate(path string, src io.Reader) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, src); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
