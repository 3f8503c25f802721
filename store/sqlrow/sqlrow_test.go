package sqlrow

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/store"
)

// row stands in for a driver's row: Scan stores its values in order,
// a nil value as the zero of the destination (as drivers store NULL into
// a pointer).
type row []any

func (r row) Scan(dest ...any) error {
	if len(dest) != len(r) {
		return errors.New("column count mismatch")
	}
	for i, d := range dest {
		e := reflect.ValueOf(d).Elem()
		if r[i] == nil {
			e.SetZero()
			continue
		}
		e.Set(reflect.ValueOf(r[i]).Convert(e.Type()))
	}
	return nil
}

var t0 = time.Date(2026, 12, 3, 9, 0, 0, 123000, time.UTC)

func ptr(v int64) *int64 { return &v }

func TestMicrosRoundTrip(t *testing.T) {
	in := time.Date(2026, 12, 3, 10, 0, 0, 123456789, time.FixedZone("x", 3600))
	got := FromMicros(Micros(in))
	if !got.Equal(in.Truncate(time.Microsecond)) || got.Location() != time.UTC {
		t.Fatalf("FromMicros(Micros(%v)) = %v", in, got)
	}
}

func TestSession(t *testing.T) {
	hash := make([]byte, 32)
	hash[0] = 7
	m := Micros(t0)
	s, err := Session(row{"s1", hash, "u1", m, m, m + 10, m + 5, int64(30_000_000), "ip", "ua", "pwd,otp", int64(2), ptr(m + 7), "why", ptr(m + 3)})
	if err != nil {
		t.Fatal(err)
	}
	if s.TokenHash[0] != 7 || s.AAL != 2 || !reflect.DeepEqual(s.AMR, []string{"pwd", "otp"}) ||
		s.IdleTimeout != 30*time.Second || !s.RevokedAt.Equal(t0.Add(7*time.Microsecond)) || !s.StepUpAt.Equal(t0.Add(3*time.Microsecond)) || !s.ExpiresAt.Equal(t0.Add(10*time.Microsecond)) {
		t.Fatalf("Session = %+v", s)
	}
	s, err = Session(row{"s1", hash, "u1", m, m, m, m, int64(0), "", "", "", int64(1), nil, "", nil})
	if err != nil || !s.RevokedAt.IsZero() || s.StepUpRequired() || s.AMR != nil {
		t.Fatalf("Session (NULL revoked, no AMR) = %+v, %v", s, err)
	}
	if _, err := Session(row{"s1", hash[:31], "u1", m, m, m, m, int64(0), "", "", "", int64(1), nil, "", nil}); err == nil {
		t.Fatal("Session accepted a 31-byte token hash")
	}
}

func TestScanErrorPassesThrough(t *testing.T) {
	noRows := errors.New("no rows")
	bad := errRow{noRows}
	if _, err := User(bad); !errors.Is(err, noRows) {
		t.Fatalf("User err = %v", err)
	}
	if _, err := RefreshState(bad); !errors.Is(err, noRows) {
		t.Fatalf("RefreshState err = %v", err)
	}
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

func TestRevocation(t *testing.T) {
	m := Micros(t0)
	r, err := Revocation(row{int64(3), "s1", "", "", "u1", m, int64(0), "logout", false})
	if err != nil || r.EvictOnly || !r.ExpiresAt.IsZero() || !r.At.Equal(t0) || r.Seq != 3 {
		t.Fatalf("Revocation = %+v, %v", r, err)
	}
	r, err = Revocation(row{int64(4), "", "j", "", "u1", m, m + 1, "deny", false})
	if err != nil || !r.ExpiresAt.Equal(t0.Add(time.Microsecond)) {
		t.Fatalf("Revocation = %+v, %v", r, err)
	}
	r, err = Revocation(row{int64(5), "", "", "k1", "", m, m + 1, "compromised", false})
	if err != nil || r.KID != "k1" || !r.ExpiresAt.Equal(t0.Add(time.Microsecond)) {
		t.Fatalf("Revocation = %+v, %v", r, err)
	}
	r, err = Revocation(row{int64(6), "s1", "", "", "u1", m, int64(0), "new_device", true})
	if err != nil || !r.EvictOnly || r.SessionID != "s1" {
		t.Fatalf("Revocation (evict only) = %+v, %v", r, err)
	}
}

func TestRefreshState(t *testing.T) {
	hash, child := make([]byte, 32), make([]byte, 32)
	hash[0], child[0] = 1, 2
	m := Micros(t0)
	st, err := RefreshState(row{hash, "s1", "c1", "openid", m, m + 1, ptr(m + 2), child, true, true, []byte{9}, true})
	if err != nil {
		t.Fatal(err)
	}
	if st.Token.Hash[0] != 1 || st.Successor[0] != 2 || !st.Superseded || !st.SuccessorUsed || !st.Token.UsedAt.Equal(t0.Add(2*time.Microsecond)) ||
		len(st.RotatedBy) != 1 || st.RotatedBy[0] != 9 || !st.GraceUsed {
		t.Fatalf("RefreshState = %+v", st)
	}
	st, err = RefreshState(row{hash, "s1", "c1", "openid", m, m + 1, nil, nil, false, false, nil, false})
	if err != nil || st.Successor != ([32]byte{}) || !st.Token.UsedAt.IsZero() {
		t.Fatalf("RefreshState (NULLs) = %+v, %v", st, err)
	}
}

func TestClientAndKey(t *testing.T) {
	m := Micros(t0)
	c, err := Client(row{"c1", "n", "h", "authorization_code refresh_token", "", "jwt", m, true, "https://a.example https://b.example", "https://me.example", "https://a/cb http://127.0.0.1/cb", "client_secret_basic", "o", ptr(m + 1), true, true})
	if err != nil || !reflect.DeepEqual(c.Grants, []string{"authorization_code", "refresh_token"}) || len(c.Scopes) != 0 || !c.CreatedAt.Equal(t0) ||
		!c.Introspect || !reflect.DeepEqual(c.Resources, []string{"https://a.example", "https://b.example"}) || c.Audience != "https://me.example" ||
		len(c.RedirectURIs) != 2 || c.AuthMethod != "client_secret_basic" || string(c.OldSecretHash) != "o" || !c.OldSecretUntil.Equal(t0.Add(time.Microsecond)) ||
		!c.FirstParty || !c.RevocationFeed {
		t.Fatalf("Client = %+v, %v", c, err)
	}
	k, err := SigningKey(row{"k1", "EdDSA", "retired", m, ptr(m + 1), ptr(m + 3), "pub", "priv", ptr(m + 4)})
	if err != nil || !k.ActivatedAt.Equal(t0.Add(time.Microsecond)) || !k.RetiredAt.Equal(t0.Add(3*time.Microsecond)) || !k.RevokedAt.Equal(t0.Add(4*time.Microsecond)) {
		t.Fatalf("SigningKey = %+v, %v", k, err)
	}
}

type rows struct {
	rs  []row
	i   int
	err error
}

func (r *rows) Next() bool             { r.i++; return r.i <= len(r.rs) }
func (r *rows) Scan(dest ...any) error { return r.rs[r.i-1].Scan(dest...) }
func (r *rows) Err() error             { return r.err }

func TestAll(t *testing.T) {
	m := Micros(t0)
	rs := &rows{rs: []row{{"u1", "a", "h", m, m, nil, false, nil}, {"u2", "b", "h", m, m, ptr(m + 1), true, ptr(m + 2)}}}
	us, err := All(rs, User)
	if err != nil || len(us) != 2 || us[1].Username != "b" || !us[0].DisabledAt.IsZero() || !us[1].DisabledAt.Equal(t0.Add(time.Microsecond)) ||
		!us[1].MustChangePassword || !us[1].DeletedAt.Equal(t0.Add(2*time.Microsecond)) {
		t.Fatalf("All = %+v, %v", us, err)
	}
	boom := errors.New("boom")
	if _, err := All(&rows{rs: []row{{"u1", "a", "h", m, m, nil, false, nil}}, err: boom}, User); !errors.Is(err, boom) {
		t.Fatalf("All ignored rows.Err: %v", err)
	}
	if _, err := All(&rows{rs: []row{{"u1"}}}, User); err == nil {
		t.Fatal("All ignored a scan error")
	}
}

func TestSQLitePlaceholders(t *testing.T) {
	for in, want := range map[string]string{
		"SELECT id FROM sessions WHERE user_id = $1 AND " + LiveSession(2) + " OFFSET $10": "SELECT id FROM sessions WHERE user_id = ?1 AND revoked_at IS NULL AND expires_at > ?2 AND last_seen_at + idle_us > ?2 OFFSET ?10",
		"SELECT '$' || x FROM t WHERE y = $3$":                                             "SELECT '$' || x FROM t WHERE y = ?3$",
		"":                                                                                 "",
	} {
		if got := SQLite(in); got != want {
			t.Errorf("SQLite(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestUserUpdateStatements: every statement binds exactly the arguments
// its placeholders number (PostgreSQL refuses one more or fewer).
func TestUserUpdateStatements(t *testing.T) {
	up := store.UserUpdate{Disable: true, Enable: true, PasswordHash: "h", Erase: true, Tombstone: "deleted:u"}
	sts := UserUpdate("u", up)
	if len(sts) != 7 {
		t.Fatalf("%d statements for every part, want 7", len(sts))
	}
	for _, st := range sts {
		highest := 0
		for i := 0; i < len(st.SQL); i++ {
			if st.SQL[i] == '$' {
				n := 0
				for i+1 < len(st.SQL) && '0' <= st.SQL[i+1] && st.SQL[i+1] <= '9' {
					i++
					n = n*10 + int(st.SQL[i]-'0')
				}
				highest = max(highest, n)
			}
		}
		if highest != len(st.Args) {
			t.Errorf("%q: placeholders up to $%d, %d arguments", st.SQL, highest, len(st.Args))
		}
	}
	if sts := UserUpdate("u", store.UserUpdate{}); len(sts) != 0 {
		t.Errorf("statements for no change: %v", sts)
	}
}
