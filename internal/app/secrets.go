package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tessera-auth/tessera/config"
	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/keys"
	"github.com/tessera-auth/tessera/token"
)

// AdminToken returns the admin credential from TESSERA_ADMIN_TOKEN or the
// data folder, generating it there (mode 0600) on first start.
func AdminToken(c config.Config) (tok, source string, created bool, err error) {
	if v := os.Getenv("TESSERA_ADMIN_TOKEN"); v != "" {
		if len(v) < 32 {
			return "", "", false, errors.New("TESSERA_ADMIN_TOKEN must be at least 32 characters")
		}
		return v, "TESSERA_ADMIN_TOKEN", false, nil
	}
	path := filepath.Join(c.Data, "admin-token")
	b, err := os.ReadFile(path)
	if err == nil {
		if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
			return "", "", false, fmt.Errorf("%s is readable by others (mode %v); chmod 600 it", path, fi.Mode().Perm())
		}
		v := strings.TrimSpace(string(b))
		if len(v) < 32 {
			return "", "", false, fmt.Errorf("%s must hold a token of at least 32 characters", path)
		}
		return v, path, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", "", false, err
	}
	// With a store URL (--store) nothing else creates the data folder
	// before this; MasterKey creates it the same way.
	if err := os.MkdirAll(c.Data, 0o700); err != nil {
		return "", "", false, err
	}
	t, err := token.New(token.Admin)
	if err != nil {
		return "", "", false, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", "", false, fmt.Errorf("writing admin token: %w", err)
	}
	if _, err := f.WriteString(t.Reveal() + "\n"); err != nil {
		f.Close()
		return "", "", false, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return "", "", false, err
	}
	return t.Reveal(), path, true, f.Close()
}

// errNoMasterKey means no master key is configured or stored yet.
var errNoMasterKey = errors.New("no master key")

// MasterKeyPath is the file the master key is read from when
// TESSERA_MASTER_KEY is not set: master_key_file, or the data folder's
// master-key file.
func MasterKeyPath(c config.Config) string {
	if c.MasterKeyFile != "" {
		return c.MasterKeyFile
	}
	return filepath.Join(c.Data, "master-key")
}

// MasterKey returns the key that seals signing keys and where it came
// from: TESSERA_MASTER_KEY, or the file MasterKeyPath names. It creates
// nothing: with neither, the error wraps errNoMasterKey. Losing the key
// makes the stored signing keys useless: back it up apart from the
// database, which is useless without it.
func MasterKey(c config.Config) (keys.MasterKey, string, error) {
	if v := os.Getenv("TESSERA_MASTER_KEY"); v != "" {
		m, err := keys.ParseMasterKey(v)
		return m, "TESSERA_MASTER_KEY", err
	}
	path := MasterKeyPath(c)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return keys.MasterKey{}, path, fmt.Errorf("%w: neither TESSERA_MASTER_KEY nor %s", errNoMasterKey, path)
	}
	if err != nil {
		return keys.MasterKey{}, "", err
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		return keys.MasterKey{}, "", fmt.Errorf("%s is readable by others (mode %v); chmod 600 it", path, fi.Mode().Perm())
	}
	m, err := keys.ParseMasterKey(string(b))
	if err != nil {
		return keys.MasterKey{}, "", fmt.Errorf("%s: %w", path, err)
	}
	return m, path, nil
}

// createMasterKey writes a fresh master key to path (mode 0600), creating
// the data folder if the key goes there.
func createMasterKey(c config.Config, path string) (keys.MasterKey, error) {
	if path == filepath.Join(c.Data, "master-key") {
		if err := os.MkdirAll(c.Data, 0o700); err != nil {
			return keys.MasterKey{}, err
		}
	}
	m, text, err := keys.NewMasterKey()
	if err != nil {
		return keys.MasterKey{}, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return keys.MasterKey{}, fmt.Errorf("writing master key: %w", err)
	}
	if _, err := f.WriteString(text + "\n"); err != nil {
		f.Close()
		os.Remove(path)
		return keys.MasterKey{}, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return keys.MasterKey{}, err
	}
	return m, f.Close()
}

// MasterKeyBesideWarning is what a server outside development says at
// start when MasterKeyBeside holds.
const MasterKeyBesideWarning = "the master key is in the data folder, beside the signing keys it seals: a copy of the folder (a backup, a disk image) holds both; in production set TESSERA_MASTER_KEY, or master_key_file outside the data folder (docs/operations.md)"

// MasterKeyBeside reports whether the master key is read from a file
// inside the data folder, beside the signing keys it seals (and the
// database): a copy of the folder (a backup, a disk image) then holds
// both. Production keeps it apart: TESSERA_MASTER_KEY from a secret store,
// or master_key_file on another volume.
func MasterKeyBeside(c config.Config, source string) bool {
	if source == "TESSERA_MASTER_KEY" || source == "" {
		return false
	}
	data, err1 := filepath.Abs(c.Data)
	key, err2 := filepath.Abs(source)
	if err1 != nil || err2 != nil {
		return true // cannot tell: say so
	}
	rel, err := filepath.Rel(data, key)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// Keyring is the signing keyset and the master key it was opened with.
type Keyring struct {
	Keys          *keys.Keyset
	Master        keys.MasterKey
	MasterSource  string // TESSERA_MASTER_KEY or the master-key file's path
	MasterCreated bool   // generated by this call (first start)
}

// OpenKeyring loads the signing keyset sealed under c's master key,
// creating the first keys if the store has none; rotations it wins are
// published to ev (may be nil).
func OpenKeyring(ctx context.Context, c config.Config, st keys.Store, log *slog.Logger, ev event.Sink) (Keyring, error) {
	return openKeyring(ctx, c, st, log, ev, nil, nil)
}

// openKeyring is OpenKeyring on now's clock; lease, if not nil, gates the
// scheduled rotation and cleanup (keys.Config.Lease).
func openKeyring(ctx context.Context, c config.Config, st keys.Store, log *slog.Logger, ev event.Sink, now func() time.Time, lease keys.Lease) (Keyring, error) {
	m, source, err := MasterKey(c)
	created := false
	if errors.Is(err, errNoMasterKey) {
		// Only a store without signing keys may get a new master key: keys
		// sealed under a lost one cannot be opened by another, and a new
		// key file left behind would only hide what was lost.
		stored, lerr := st.ListSigningKeys(ctx)
		if lerr != nil {
			return Keyring{}, fmt.Errorf("keys: %w", lerr)
		}
		if len(stored) > 0 {
			return Keyring{}, fmt.Errorf("the store holds %d signing keys sealed under a master key, but there is no master key (%w): restore the master key from your backup (a new one cannot open them); set TESSERA_MASTER_KEY, master_key_file, or put it back at %s", len(stored), err, MasterKeyPath(c))
		}
		if m, err = createMasterKey(c, source); err == nil {
			created = true
		}
	}
	if err != nil {
		return Keyring{}, err
	}
	k := c.Policy.Keys
	ks, err := keys.New(st, m, keys.Config{Alg: k.Algorithm, RotationInterval: k.RotationInterval.D(), RetiredTTL: k.RetiredTTL.D(), Logger: log, Events: ev, Now: now, Lease: lease})
	if err == nil {
		err = ks.Load(ctx)
	}
	if err != nil {
		if created {
			// Another node stored the first keys meanwhile, under its own
			// key, or the keys could not be stored: take back what this
			// start made, so the next start is not misled by it.
			os.Remove(source)
		}
		if errors.Is(err, keys.ErrMasterKey) {
			return Keyring{}, fmt.Errorf("the master key from %s does not open the stored signing keys: %w (use the key they were sealed under)", source, err)
		}
		return Keyring{}, err
	}
	return Keyring{Keys: ks, Master: m, MasterSource: source, MasterCreated: created}, nil
}
