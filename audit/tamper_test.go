package audit_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/audit"
	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/store/postgres"
	"github.com/tessera-auth/tessera/store/postgres/pgtest"
	"github.com/tessera-auth/tessera/store/sqlite"
	"github.com/tessera-auth/tessera/store/sqlrow"
)

// db is a store and a raw connection to its database, as an attacker
// with write access (and no master key) would have.
type db struct {
	st   store.Store
	exec func(t testing.TB, query string)
	blob func(b []byte) string // a bytes literal in the backend's SQL
	url  string                // PostgreSQL: the schema's URL, for a second node
}

func sqliteDB(t testing.TB) db {
	path := filepath.Join(t.TempDir(), "t.db")
	st, err := sqlite.Open(context.Background(), path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	return db{st: st,
		exec: func(t testing.TB, q string) {
			t.Helper()
			if _, err := raw.Exec(q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		},
		blob: func(b []byte) string { return "X'" + hex.EncodeToString(b) + "'" }}
}

func postgresDB(t testing.TB) db {
	ctx := context.Background()
	u := pgtest.URL(t)
	m, err := postgres.NewMigrator(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	m.Close()
	st, err := postgres.Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return db{st: st, url: u,
		exec: func(t testing.TB, q string) { t.Helper(); pgtest.Exec(t, u, q) },
		blob: func(b []byte) string { return `'\x` + hex.EncodeToString(b) + `'::bytea` }}
}

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

func testChain(t *testing.T) *audit.Chain {
	c, err := audit.NewChain([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func rec(i int) store.AuditRecord {
	return store.AuditRecord{At: t0.Add(time.Duration(i) * time.Minute), Event: "login_succeeded", Actor: "user",
		UserID: fmt.Sprintf("u%d", i%3), SessionID: fmt.Sprintf("s%d", i), IP: "192.0.2.7", UserAgent: "Firefox",
		Outcome: "success", Details: []byte(`{}`), Node: "n1"}
}

// fill appends records 1..7 and 8..10 (the head after 7 is returned, as an
// attacker could have copied it) and a periodic checkpoint at 10.
func fill(t *testing.T, d db, c *audit.Chain) store.AuditHead {
	ctx := context.Background()
	var recs []store.AuditRecord
	for i := 1; i <= 10; i++ {
		recs = append(recs, rec(i))
	}
	if err := d.st.AppendAudit(ctx, recs[:7], c.Seal); err != nil {
		t.Fatal(err)
	}
	old, err := d.st.AuditHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.st.AppendAudit(ctx, recs[7:], c.Seal); err != nil {
		t.Fatal(err)
	}
	h, _ := d.st.AuditHead(ctx)
	if err := d.st.PutAuditCheckpoint(ctx, c.Checkpoint(audit.CheckpointPeriodic, h.Seq, h.MAC, t0.Add(time.Hour), "n1")); err != nil {
		t.Fatal(err)
	}
	return old
}

// unkeyedChain recomputes every MAC from record from on, and the head, as
// an attacker without the key would: SHA-256 over the same fields.
func unkeyedChain(t *testing.T, d db, from int64) {
	ctx := context.Background()
	all, err := d.st.AuditRecords(ctx, store.AuditQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var prev []byte
	var last int64
	for _, r := range all {
		if r.Seq >= from {
			h := sha256.New()
			h.Write(prev)
			for _, a := range sqlrow.AuditArgs(r)[:12] {
				fmt.Fprint(h, a)
			}
			r.MAC = h.Sum(nil)
			d.exec(t, fmt.Sprintf("UPDATE audit_records SET mac = %s WHERE seq = %d", d.blob(r.MAC), r.Seq))
		}
		prev, last = r.MAC, r.Seq
	}
	hm := sha256.Sum256(append(prev, byte(last)))
	d.exec(t, fmt.Sprintf("UPDATE audit_head SET seq = %d, mac = %s, head_mac = %s WHERE id = 1", last, d.blob(prev), d.blob(hm[:])))
}

func TestTampering(t *testing.T) {
	backends := map[string]func(testing.TB) db{"sqlite": sqliteDB, "postgres": postgresDB}
	cases := []struct {
		name   string
		tamper func(t *testing.T, d db, c *audit.Chain, oldHead store.AuditHead)
		seq    int64  // the record Verify must name
		want   string // in the failure
	}{
		{"edit", func(t *testing.T, d db, _ *audit.Chain, _ store.AuditHead) {
			d.exec(t, "UPDATE audit_records SET user_id = 'mallory' WHERE seq = 5")
		}, 5, "MAC mismatch"},
		{"edit details", func(t *testing.T, d db, _ *audit.Chain, _ store.AuditHead) {
			d.exec(t, `UPDATE audit_records SET details = '{"reason":"nothing to see"}' WHERE seq = 9`)
		}, 9, "MAC mismatch"},
		{"edit and recompute an unkeyed chain", func(t *testing.T, d db, _ *audit.Chain, _ store.AuditHead) {
			d.exec(t, "UPDATE audit_records SET ip = '203.0.113.9' WHERE seq = 5")
			unkeyedChain(t, d, 5)
		}, 5, "MAC mismatch"},
		{"delete", func(t *testing.T, d db, _ *audit.Chain, _ store.AuditHead) {
			d.exec(t, "DELETE FROM audit_records WHERE seq = 5")
		}, 5, "missing"},
		{"delete the first", func(t *testing.T, d db, _ *audit.Chain, _ store.AuditHead) {
			d.exec(t, "DELETE FROM audit_records WHERE seq <= 2")
		}, 1, "missing"},
		{"insert in the middle", func(t *testing.T, d db, _ *audit.Chain, _ store.AuditHead) {
			d.exec(t, "UPDATE audit_records SET seq = seq + 100 WHERE seq >= 5")
			d.exec(t, "UPDATE audit_records SET seq = seq - 99 WHERE seq >= 105")
			d.exec(t, fmt.Sprintf(`INSERT INTO audit_records (%s) VALUES (5, 0, 'login_succeeded', 'user', 'u1', 'sx', '', '', '', 'success', '{}', 'n1', %s)`,
				sqlrow.AuditCols, d.blob(make([]byte, 32))))
		}, 5, "MAC mismatch"},
		{"insert after the tail", func(t *testing.T, d db, _ *audit.Chain, _ store.AuditHead) {
			d.exec(t, fmt.Sprintf(`INSERT INTO audit_records (%s) VALUES (11, 0, 'login_succeeded', 'user', 'u1', 'sx', '', '', '', 'success', '{}', 'n1', %s)`,
				sqlrow.AuditCols, d.blob(make([]byte, 32))))
		}, 11, "MAC mismatch"},
		{"reorder", func(t *testing.T, d db, _ *audit.Chain, _ store.AuditHead) {
			d.exec(t, "UPDATE audit_records SET seq = 1000 WHERE seq = 4")
			d.exec(t, "UPDATE audit_records SET seq = 4 WHERE seq = 6")
			d.exec(t, "UPDATE audit_records SET seq = 6 WHERE seq = 1000")
		}, 4, "MAC mismatch"},
		{"truncate the tail", func(t *testing.T, d db, _ *audit.Chain, _ store.AuditHead) {
			d.exec(t, "DELETE FROM audit_records WHERE seq > 7")
		}, 8, "truncated"},
		{"truncate the tail and restore an old head", func(t *testing.T, d db, _ *audit.Chain, old store.AuditHead) {
			d.exec(t, "DELETE FROM audit_records WHERE seq > 7")
			d.exec(t, fmt.Sprintf("UPDATE audit_head SET seq = %d, mac = %s, head_mac = %s WHERE id = 1", old.Seq, d.blob(old.MAC), d.blob(old.HeadMAC)))
		}, 8, "behind the checkpoint at 10"},
		{"forge a retention cut", func(t *testing.T, d db, c *audit.Chain, _ store.AuditHead) {
			d.exec(t, "DELETE FROM audit_records WHERE seq <= 3")
			d.exec(t, fmt.Sprintf("INSERT INTO audit_checkpoints (%s) VALUES (3, 'cut', %s, 0, 'n1', %s)", sqlrow.AuditCheckpointCols, d.blob(make([]byte, 32)), d.blob(make([]byte, 32))))
		}, 3, "bad signature"},
		{"edit the head", func(t *testing.T, d db, _ *audit.Chain, _ store.AuditHead) {
			d.exec(t, "UPDATE audit_head SET seq = 12 WHERE id = 1")
		}, 12, "bad MAC"},
	}
	for name, open := range backends {
		t.Run(name, func(t *testing.T) {
			if name == "postgres" {
				pgtest.ServerURL(t)
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					d, c := open(t), testChain(t)
					old := fill(t, d, c)
					rep, err := audit.Verify(context.Background(), d.st, c, nil)
					if err != nil || !rep.OK() || rep.Records != 10 || rep.Checkpoints != 1 {
						t.Fatalf("before tampering: %+v, %v", rep, err)
					}
					tc.tamper(t, d, c, old)
					rep, err = audit.Verify(context.Background(), d.st, c, nil)
					if err != nil {
						t.Fatal(err)
					}
					if rep.OK() || rep.FailedSeq != tc.seq || !strings.Contains(rep.Failure, tc.want) {
						t.Fatalf("after %s: %+v; want a failure naming record %d (%q)", tc.name, rep, tc.seq, tc.want)
					}
				})
			}
		})
	}
}

// Pruning leaves a signed cut: what remains verifies, and deleting past
// the cut is still caught.
func TestPruneKeepsVerification(t *testing.T) {
	for name, open := range map[string]func(testing.TB) db{"sqlite": sqliteDB, "postgres": postgresDB} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			d, c := open(t), testChain(t)
			fill(t, d, c)
			n, err := audit.Prune(ctx, d.st, c, t0.Add(5*time.Minute), "n1", t0.Add(2*time.Hour))
			if err != nil || n != 4 {
				t.Fatalf("prune = %d, %v", n, err)
			}
			rep, err := audit.Verify(ctx, d.st, c, nil)
			if err != nil || !rep.OK() || rep.Records != 6 || rep.First != 5 || rep.Cut != 4 {
				t.Fatalf("after prune: %+v, %v", rep, err)
			}
			// The writer goes on from the head.
			if err := d.st.AppendAudit(ctx, []store.AuditRecord{rec(11)}, c.Seal); err != nil {
				t.Fatal(err)
			}
			if rep, _ := audit.Verify(ctx, d.st, c, nil); !rep.OK() || rep.Last != 11 {
				t.Fatalf("append after prune: %+v", rep)
			}
			d.exec(t, "DELETE FROM audit_records WHERE seq = 5")
			if rep, _ := audit.Verify(ctx, d.st, c, nil); rep.OK() || rep.FailedSeq != 5 {
				t.Fatalf("deleting the record after the cut: %+v", rep)
			}
		})
	}
}

// A chain made under one master key does not verify under another, and a
// writer with the wrong key refuses to extend it.
func TestOtherKey(t *testing.T) {
	d, c := sqliteDB(t), testChain(t)
	fill(t, d, c)
	other, _ := audit.NewChain([]byte("another key, another key, 32 byt"))
	if rep, _ := audit.Verify(context.Background(), d.st, other, nil); rep.OK() {
		t.Fatalf("verified under another key: %+v", rep)
	}
	if err := d.st.AppendAudit(context.Background(), []store.AuditRecord{rec(11)}, other.Seal); err == nil {
		t.Fatal("appended under another key")
	}
}
