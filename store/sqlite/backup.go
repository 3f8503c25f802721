package sqlite

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Backup writes a consistent snapshot of the database to path, which must
// not exist, while the store stays in use. VACUUM INTO reads in one
// transaction, so the copy holds every commit up to its start — those
// still only in the WAL included, which a copy of tessera.db alone misses —
// and nothing half-done; writers go on meanwhile. The snapshot is written
// beside path and renamed into place once synced, so path is whole or
// absent. It holds the signing keys sealed under the master key, never the
// master key itself.
func (s *Store) Backup(ctx context.Context, path string) error {
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("sqlite: backup: %s exists", path)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("sqlite: backup: %w", err)
	}
	tmp := path + ".partial"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("sqlite: backup: %w", err)
	}
	// Made first, 0600, so the snapshot is never readable by others; VACUUM
	// INTO accepts an existing empty file.
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("sqlite: backup: %w", err)
	}
	f.Close()
	done := false
	defer func() {
		if !done {
			os.Remove(tmp)
		}
	}()
	if _, err := s.r.ExecContext(ctx, "VACUUM INTO ?", tmp); err != nil {
		return fmt.Errorf("sqlite: backup: %w", err)
	}
	if err := syncFile(tmp); err != nil {
		return fmt.Errorf("sqlite: backup: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("sqlite: backup: %w", err)
	}
	done = true
	return syncFile(filepath.Dir(path))
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
