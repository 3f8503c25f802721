package sqlite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/store/storetest"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// TestReadyFollowsDiskFull: a write that fails for want of space makes
// Ping (readiness) fail, naming the cause, and Ping passes again once
// writes commit, without waiting for traffic. The disk fills for real as
// far as SQLite can tell: the writer connection's max_page_count stops the
// file growing (SQLITE_FULL, "database or disk is full").
func TestReadyFollowsDiskFull(t *testing.T) {
	ctx := context.Background()
	s, now := openAlice(t)
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("healthy store: %v", err)
	}
	var pages int
	if err := s.w.QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages); err != nil {
		t.Fatal(err)
	}
	setMax := func(n int) {
		t.Helper()
		if _, err := s.w.ExecContext(ctx, fmt.Sprintf("PRAGMA max_page_count = %d", n)); err != nil {
			t.Fatal(err)
		}
	}
	setMax(pages) // the disk is full: the file cannot grow
	var full error
	for i := 0; i < 10000 && full == nil; i++ {
		_, err := s.CreateSession(ctx, store.Session{ID: fmt.Sprint("s", i), TokenHash: storetest.NewHash(t), UserID: "u1", CreatedAt: now, AuthTime: now,
			ExpiresAt: now.Add(time.Hour), LastSeenAt: now, IdleTimeout: time.Hour, UserAgent: strings.Repeat("x", 500), AAL: 1}, store.CreateOptions{})
		var se *sqlite.Error
		if errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_FULL {
			full = err
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if full == nil {
		t.Fatal("the disk never filled")
	}
	if err := s.Ping(ctx); err == nil || !strings.Contains(err.Error(), "full") {
		t.Fatalf("Ping with a full disk: %v, want not ready naming the cause", err)
	}
	setMax(1 << 30) // space again
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping once writes commit again: %v", err)
	}
}

// TestCheckCorrupt: the start-up check finds a damaged database.
func TestCheckCorrupt(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "t.db")
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for i := range 200 {
		if err := s.CreateUser(ctx, store.User{ID: fmt.Sprint("u", i), Username: fmt.Sprint("user", i), PasswordHash: strings.Repeat("h", 200), CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	// (No Check here: its probe would leave free pages at the end of the
	// file, which an integrity check does not read.)
	var pageSize int
	if err := s.r.QueryRowContext(ctx, "PRAGMA page_size").Scan(&pageSize); err != nil || pageSize != 4096 {
		t.Fatalf("page size %d, %v; the test overwrites 4 KiB pages", pageSize, err)
	}
	s.Close() // checkpoints the WAL into the file
	corruptPages(t, path)
	s, err = OpenExisting(ctx, path, Options{})
	if err != nil {
		t.Fatalf("open of a database damaged in its data pages only: %v", err)
	}
	defer s.Close()
	if err := s.Check(ctx); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Check of a damaged database: %v, want ErrCorrupt", err)
	}
}

// TestOpenNotADatabase: a file that is no database at all is refused at
// open as damaged.
func TestOpenNotADatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.db")
	if err := os.WriteFile(path, []byte(strings.Repeat("not a database ", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenExisting(context.Background(), path, Options{}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("open of a file that is not a database: %v, want ErrCorrupt", err)
	}
}

// corruptPages overwrites the last pages (the users' rows) with garbage, as
// a bad disk or a torn copy would, leaving the header and schema readable.
func corruptPages(t *testing.T, path string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	junk := []byte(strings.Repeat("\xde\xad\xbe\xef", 1024))
	for off := fi.Size() - 3*4096; off+4096 <= fi.Size(); off += 4096 {
		if _, err := f.WriteAt(junk, off); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCheckReadOnly: the start-up check refuses a database it cannot
// write. As root, file modes do not stop writes, so the file is made
// immutable (chattr +i) instead.
func TestCheckReadOnly(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "t.db")
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	makeReadOnly(t, path)
	s, err = OpenExisting(ctx, path, Options{})
	if err != nil {
		if !errors.Is(err, ErrReadOnly) && !strings.Contains(err.Error(), "read") {
			t.Fatalf("open of a read-only database: %v", err)
		}
		return
	}
	defer s.Close()
	if err := s.Check(ctx); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("Check of a read-only database: %v, want ErrReadOnly", err)
	}
}

// makeReadOnly makes the file at path unwritable for this process until
// the test ends.
func makeReadOnly(t *testing.T, path string) {
	t.Helper()
	if os.Geteuid() != 0 {
		if err := os.Chmod(path, 0o400); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(path, 0o600) })
		return
	}
	if out, err := exec.Command("chattr", "+i", path).CombinedOutput(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("chattr +i (root cannot be stopped by file modes): %v: %s", err, out)
		}
		t.Skipf("running as root and chattr +i failed (%v: %s): cannot make a read-only file", err, out)
	}
	t.Cleanup(func() { exec.Command("chattr", "-i", path).Run() })
}
