package sqlrow

import (
	"fmt"
	"strings"
	"time"

	"github.com/tessera-auth/tessera/store"
)

// Scanner is one row: *sql.Row and *sql.Rows satisfy it, and so do
// pgx.Row and pgx.Rows.
type Scanner interface {
	Scan(dest ...any) error
}

// Rows is a result set being read; Close stays with the caller, whose
// drivers disagree on its signature.
type Rows interface {
	Scanner
	Next() bool
	Err() error
}

// Micros is t as stored: microseconds since the Unix epoch.
func Micros(t time.Time) int64 { return t.UnixMicro() }

// FromMicros is the time a stored microsecond count stands for, in UTC.
func FromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

// fromNullMicros leaves the zero time for NULL.
func fromNullMicros(v *int64) time.Time {
	if v == nil {
		return time.Time{}
	}
	return FromMicros(*v)
}

// Column lists, in the order the scanners read them.
const (
	UserCols       = "id, username, password_hash, created_at, password_changed_at, disabled_at, must_change_password, deleted_at"
	SessionCols    = "id, token_hash, user_id, created_at, auth_time, expires_at, last_seen_at, idle_us, ip, user_agent, amr, aal, revoked_at, revoke_reason, step_up_at"
	RevocationCols = "seq, session_id, jti, kid, user_id, at, expires_at, reason, evict_only"
	ClientCols     = "id, name, secret_hash, grants, scopes, token_format, created_at, introspect, resources, audience, redirect_uris, auth_method, old_secret_hash, old_secret_until, first_party, revocation_feed"
	RefreshCols    = "token_hash, session_id, client_id, scope, created_at, expires_at, used_at"
	AccessCols     = "token_hash, jti, client_id, subject, scope, session_id, created_at, expires_at"
	KeyCols        = "id, alg, state, created_at, activated_at, retired_at, public_jwk, private_jwe, revoked_at"
)

// User reads UserCols.
func User(row Scanner) (store.User, error) {
	var u store.User
	var created, changed int64
	var disabled, deleted *int64
	if err := row.Scan(&u.ID, &u.Username, &u.PasswordHash, &created, &changed, &disabled, &u.MustChangePassword, &deleted); err != nil {
		return store.User{}, err
	}
	u.CreatedAt, u.PasswordChangedAt = FromMicros(created), FromMicros(changed)
	u.DisabledAt, u.DeletedAt = fromNullMicros(disabled), fromNullMicros(deleted)
	return u, nil
}

// Session reads SessionCols.
func Session(row Scanner) (store.Session, error) {
	var s store.Session
	var hash []byte
	var created, authTime, expires, seen, idle, aal int64
	var revoked, stepUp *int64
	var amr string
	if err := row.Scan(&s.ID, &hash, &s.UserID, &created, &authTime, &expires, &seen, &idle, &s.IP, &s.UserAgent, &amr, &aal, &revoked, &s.RevokeReason, &stepUp); err != nil {
		return store.Session{}, err
	}
	if len(hash) != len(s.TokenHash) {
		return store.Session{}, fmt.Errorf("session %s: token hash has %d bytes", s.ID, len(hash))
	}
	copy(s.TokenHash[:], hash)
	s.AAL = int(aal)
	s.CreatedAt, s.AuthTime, s.ExpiresAt, s.LastSeenAt = FromMicros(created), FromMicros(authTime), FromMicros(expires), FromMicros(seen)
	s.IdleTimeout = time.Duration(idle) * time.Microsecond
	s.RevokedAt, s.StepUpAt = fromNullMicros(revoked), fromNullMicros(stepUp)
	if amr != "" {
		s.AMR = strings.Split(amr, ",")
	}
	return s, nil
}

// Revocation reads RevocationCols. An expires_at of 0 (a session
// revocation) leaves ExpiresAt zero.
func Revocation(row Scanner) (store.Revocation, error) {
	var r store.Revocation
	var at, exp int64
	if err := row.Scan(&r.Seq, &r.SessionID, &r.JTI, &r.KID, &r.UserID, &at, &exp, &r.Reason, &r.EvictOnly); err != nil {
		return store.Revocation{}, err
	}
	r.At = FromMicros(at)
	if exp != 0 {
		r.ExpiresAt = FromMicros(exp)
	}
	return r, nil
}

// ClientArgs are c's values in ClientCols order, for an INSERT.
func ClientArgs(c store.Client) []any {
	var oldUntil *int64
	if !c.OldSecretUntil.IsZero() {
		v := Micros(c.OldSecretUntil)
		oldUntil = &v
	}
	return []any{c.ID, c.Name, c.SecretHash, strings.Join(c.Grants, " "), strings.Join(c.Scopes, " "), c.TokenFormat, Micros(c.CreatedAt),
		c.Introspect, strings.Join(c.Resources, " "), c.Audience,
		strings.Join(c.RedirectURIs, " "), c.AuthMethod, c.OldSecretHash, oldUntil, c.FirstParty, c.RevocationFeed}
}

// Client reads ClientCols; grants, scopes, resources and redirect URIs
// are stored space-separated (a URI has no spaces).
func Client(row Scanner) (store.Client, error) {
	var c store.Client
	var grants, scopes, resources, redirects string
	var created int64
	var oldUntil *int64
	if err := row.Scan(&c.ID, &c.Name, &c.SecretHash, &grants, &scopes, &c.TokenFormat, &created, &c.Introspect, &resources, &c.Audience, &redirects, &c.AuthMethod, &c.OldSecretHash, &oldUntil, &c.FirstParty, &c.RevocationFeed); err != nil {
		return store.Client{}, err
	}
	c.Grants, c.Scopes, c.CreatedAt = strings.Fields(grants), strings.Fields(scopes), FromMicros(created)
	if resources != "" {
		c.Resources = strings.Fields(resources)
	}
	if redirects != "" {
		c.RedirectURIs = strings.Fields(redirects)
	}
	c.OldSecretUntil = fromNullMicros(oldUntil)
	return c, nil
}

// RefreshToken reads RefreshCols.
func RefreshToken(row Scanner) (store.RefreshToken, error) {
	var t store.RefreshToken
	var hash []byte
	var created, expires int64
	var used *int64
	if err := row.Scan(refreshDest(&t, &hash, &created, &expires, &used)...); err != nil {
		return store.RefreshToken{}, err
	}
	setRefresh(&t, hash, created, expires, used)
	return t, nil
}

// RefreshStateFrom selects what RefreshState reads: a refresh token (r)
// joined to its child (c). The backend adds the WHERE on r.token_hash and
// any locking clause.
const RefreshStateFrom = "SELECT r.token_hash, r.session_id, r.client_id, r.scope, r.created_at, r.expires_at, r.used_at, r.child, r.superseded, c.used_at IS NOT NULL, r.rotated_by, r.grace_used" +
	" FROM refresh_tokens AS r LEFT JOIN refresh_tokens AS c ON c.token_hash = r.child"

// RefreshState reads RefreshCols followed by the token's child, its
// superseded flag, whether the child was used, the origin hash of its
// rotation and its grace-used flag: the state a rotation decides on, less
// the session.
func RefreshState(row Scanner) (store.RefreshState, error) {
	var st store.RefreshState
	var hash, child []byte
	var created, expires int64
	var used *int64
	dest := append(refreshDest(&st.Token, &hash, &created, &expires, &used), &child, &st.Superseded, &st.SuccessorUsed, &st.RotatedBy, &st.GraceUsed)
	if err := row.Scan(dest...); err != nil {
		return store.RefreshState{}, err
	}
	setRefresh(&st.Token, hash, created, expires, used)
	copy(st.Successor[:], child) // NULL (none recorded) leaves it zero
	return st, nil
}

func refreshDest(t *store.RefreshToken, hash *[]byte, created, expires *int64, used **int64) []any {
	return []any{hash, &t.SessionID, &t.ClientID, &t.Scope, created, expires, used}
}

func setRefresh(t *store.RefreshToken, hash []byte, created, expires int64, used *int64) {
	copy(t.Hash[:], hash)
	t.CreatedAt, t.ExpiresAt = FromMicros(created), FromMicros(expires)
	t.UsedAt = fromNullMicros(used)
}

// AccessToken reads AccessCols.
func AccessToken(row Scanner) (store.AccessToken, error) {
	var t store.AccessToken
	var hash []byte
	var created, expires int64
	if err := row.Scan(&hash, &t.ID, &t.ClientID, &t.Subject, &t.Scope, &t.SessionID, &created, &expires); err != nil {
		return store.AccessToken{}, err
	}
	copy(t.Hash[:], hash)
	t.CreatedAt, t.ExpiresAt = FromMicros(created), FromMicros(expires)
	return t, nil
}

// SigningKey reads KeyCols.
func SigningKey(row Scanner) (store.SigningKey, error) {
	var k store.SigningKey
	var created int64
	var activated, retired, revoked *int64
	if err := row.Scan(&k.ID, &k.Alg, &k.State, &created, &activated, &retired, &k.PublicJWK, &k.PrivateJWE, &revoked); err != nil {
		return store.SigningKey{}, err
	}
	k.CreatedAt = FromMicros(created)
	k.ActivatedAt, k.RetiredAt, k.RevokedAt = fromNullMicros(activated), fromNullMicros(retired), fromNullMicros(revoked)
	return k, nil
}

// All reads every remaining row of rows with scan. It does not close rows.
func All[T any](rows Rows, scan func(Scanner) (T, error)) ([]T, error) {
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
