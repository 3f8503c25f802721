package clustertest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Postgres is a PostgreSQL server of the caller's own: a fresh cluster made
// by initdb in a temporary folder, run by pg_ctl on a free loopback port,
// so a test can stop and start it. initdb refuses to run as root, so as
// root every command runs as the postgres OS user (runuser), which owns the
// folder.
type Postgres struct {
	Port int
	dir  string
	bin  string   // folder of initdb and pg_ctl
	as   []string // the runuser prefix, or nothing
}

// PostgresBin finds the folder holding initdb and pg_ctl: $PATH first, then
// the newest /usr/lib/postgresql/*/bin (Debian keeps them off $PATH).
func PostgresBin() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if _, err := exec.LookPath("pg_ctl"); err == nil {
			return filepath.Dir(p), nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", errors.New("no initdb and pg_ctl on $PATH or in /usr/lib/postgresql/*/bin")
}

func version(dir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return v
}

// StartPostgres makes a new PostgreSQL cluster in a temporary folder and
// starts it. Close stops it and removes the folder.
func StartPostgres() (*Postgres, error) {
	bin, err := PostgresBin()
	if err != nil {
		return nil, err
	}
	var as []string
	uid, gid := -1, -1
	if os.Geteuid() == 0 {
		pu, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("initdb refuses root and there is no postgres OS user to run it as: %w", err)
		}
		runuser, err := exec.LookPath("runuser")
		if err != nil {
			return nil, fmt.Errorf("initdb refuses root and runuser is missing: %w", err)
		}
		uid, _ = strconv.Atoi(pu.Uid)
		gid, _ = strconv.Atoi(pu.Gid)
		as = []string{runuser, "-u", "postgres", "--"}
	}
	// The postgres user must reach the folder: $TMPDIR may be private to
	// root (such as /root/tmp), so fall back to the shared ones.
	var errs []error
	for _, parent := range []string{os.TempDir(), "/tmp", "/var/tmp"} {
		dir, err := os.MkdirTemp(parent, "tessera-pg")
		if err != nil {
			errs = append(errs, err)
			continue
		}
		p := &Postgres{dir: dir, bin: bin, as: as}
		if uid >= 0 {
			if err := os.Chown(dir, uid, gid); err != nil {
				os.RemoveAll(dir)
				return nil, err
			}
		}
		// --no-sync and fsync=off: these clusters hold test data only, and
		// the tests stop PostgreSQL, they do not crash the machine. Commits
		// are still acknowledged only after PostgreSQL's commit
		// (synchronous_commit stays on, which Tessera checks).
		if out, err := p.run("initdb", "-D", p.data(), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"); err != nil {
			os.RemoveAll(dir)
			errs = append(errs, fmt.Errorf("initdb in %s: %v\n%s", parent, err, out))
			continue
		}
		// A free port can be taken before the server binds it: try again
		// on another.
		for range 3 {
			port, err := FreePort()
			if err != nil {
				os.RemoveAll(dir)
				return nil, err
			}
			_, ps, _ := net.SplitHostPort(port)
			p.Port, _ = strconv.Atoi(ps)
			if err = p.Start(); err == nil {
				return p, nil
			}
			errs = append(errs, err)
		}
		p.Close()
		break
	}
	return nil, errors.Join(errs...)
}

func (p *Postgres) data() string { return filepath.Join(p.dir, "data") }

func (p *Postgres) run(tool string, args ...string) ([]byte, error) {
	argv := append(append(append([]string{}, p.as...), filepath.Join(p.bin, tool)), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = p.dir
	return cmd.CombinedOutput()
}

// Start starts the server (again) on its port and waits until it accepts
// connections.
func (p *Postgres) Start() error {
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200", p.Port, p.dir)
	if out, err := p.run("pg_ctl", "-D", p.data(), "-l", filepath.Join(p.dir, "postgres.log"), "-o", opts, "-w", "-t", "30", "start"); err != nil {
		return fmt.Errorf("pg_ctl start: %v\n%s", err, out)
	}
	return nil
}

// Stop stops the server: mode "fast" (disconnects clients, clean
// shutdown) or "immediate" (as a crash: no shutdown checkpoint).
func (p *Postgres) Stop(mode string) error {
	if out, err := p.run("pg_ctl", "-D", p.data(), "-m", mode, "-w", "-t", "30", "stop"); err != nil {
		return fmt.Errorf("pg_ctl stop: %v\n%s", err, out)
	}
	return nil
}

// URL is the server's database postgres, as the superuser postgres.
func (p *Postgres) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres", p.Port)
}

// Close stops the server if it runs and removes its folder.
func (p *Postgres) Close() {
	p.Stop("immediate")
	os.RemoveAll(p.dir)
}

// NewSchema makes a schema with a random name on the server server names
// and returns a URL that makes it every connection's search_path, and a
// function that drops it.
func NewSchema(ctx context.Context, server string) (string, func() error, error) {
	var b [8]byte
	rand.Read(b[:])
	schema := "tessera_cluster_" + hex.EncodeToString(b[:])
	if err := Exec(ctx, server, "CREATE SCHEMA "+schema); err != nil {
		return "", nil, err
	}
	u, err := url.Parse(server)
	if err != nil {
		return "", nil, err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	drop := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return Exec(ctx, server, "DROP SCHEMA "+schema+" CASCADE")
	}
	return u.String(), drop, nil
}

// NewDatabase makes a database with a random name on the server server
// names and returns its URL and a function that drops it.
func NewDatabase(ctx context.Context, server string) (string, func() error, error) {
	var b [8]byte
	rand.Read(b[:])
	name := "tessera_cluster_" + hex.EncodeToString(b[:])
	if err := Exec(ctx, server, "CREATE DATABASE "+name); err != nil {
		return "", nil, err
	}
	u, err := url.Parse(server)
	if err != nil {
		return "", nil, err
	}
	u.Path = "/" + name
	drop := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return Exec(ctx, server, "DROP DATABASE "+name+" WITH (FORCE)")
	}
	return u.String(), drop, nil
}

// Exec runs one statement on the database u names.
func Exec(ctx context.Context, u, query string) error {
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, query); err != nil {
		return fmt.Errorf("postgres: %s: %w", strings.Fields(query)[0], err)
	}
	return nil
}

// PollOnly prepares a cluster on store (a schema on server) whose nodes
// lose every PostgreSQL notification, as when no listener can reach the
// database: their direct connection (store_direct, which carries LISTEN and
// the migration lock) names another, new database, where nothing is ever
// notified on the store's channel. The store itself is migrated here with
// `bin migrate`, since the nodes' migrator works on that other database.
// What is left is the feed poll, the safety net that bounds the delay. It
// returns the nodes' extra settings and a cleanup to run after them.
func PollOnly(ctx context.Context, bin, server, store string) (env []string, cleanup func(), err error) {
	other, drop, err := NewDatabase(ctx, server)
	if err != nil {
		return nil, nil, err
	}
	dir, err := os.MkdirTemp("", "tessera-migrate")
	if err != nil {
		drop()
		return nil, nil, err
	}
	defer os.RemoveAll(dir)
	cmd := exec.CommandContext(ctx, bin, "migrate", "--store", store, "--data", dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		drop()
		return nil, nil, fmt.Errorf("tessera migrate: %v\n%s", err, out)
	}
	return []string{"TESSERA_STORE_DIRECT=" + other}, func() { drop() }, nil
}
