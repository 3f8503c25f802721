package sqlite

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// createPrivate creates the database file at path, if there is none, with
// mode 0600 before SQLite opens it: SQLite would create it 0644 (less the
// umask), and it creates the -wal and -shm files with the database file's
// mode. The file holds password and token hashes: its owner's only.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("sqlite: create %s: %w", path, err)
	}
	return f.Close()
}

// tighten takes group and other permissions away from the database file
// and its -wal and -shm files where an older version (or a umask) left
// them: every open repairs what the files' creation got wrong.
func tighten(path string) error {
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("sqlite: %w", err)
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			if err := os.Chmod(p, perm&^0o077); err != nil {
				return fmt.Errorf("sqlite: make %s private: %w", p, err)
			}
		}
	}
	return nil
}
