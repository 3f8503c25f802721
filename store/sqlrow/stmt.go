package sqlrow

import (
	"strconv"
	"strings"

	"github.com/tessera-auth/tessera/store"
)

// The SQL both backends run is written here once, with PostgreSQL's
// numbered placeholders ($1, $2, …); SQLite runs it through SQLite, which
// numbers them its own way (?1, ?2, …). The numbers are kept, so a value
// used twice is still passed once.

// SQLite rewrites q's $n placeholders as ?n. Shared SQL has no '$' but
// in placeholders.
func SQLite(q string) string {
	var b strings.Builder
	b.Grow(len(q))
	for i := 0; i < len(q); i++ {
		if q[i] == '$' && i+1 < len(q) && '0' <= q[i+1] && q[i+1] <= '9' {
			b.WriteByte('?')
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// LiveSession is the condition a sessions row meets while the session is
// live at the time bound to $n: not revoked, before its absolute expiry
// and within its idle timeout (store.Session.Live, in SQL). The session
// list and the per-user cap count by it.
func LiveSession(n int) string {
	at := "$" + strconv.Itoa(n)
	return "revoked_at IS NULL AND expires_at > " + at + " AND last_seen_at + idle_us > " + at
}

// UnexpiredSession is the condition of a session not revoked and before
// its absolute expiry at $n, idle or not: what a mass revocation ends (an
// idle session's token still exists until then) and CountLiveSessions
// counts.
func UnexpiredSession(n int) string {
	return "revoked_at IS NULL AND expires_at > $" + strconv.Itoa(n)
}

// Stmt is one statement and its arguments.
type Stmt struct {
	SQL  string
	Args []any
}

// UserUpdate is what UpdateUser writes for up, after revoking the sessions
// (which each backend does its own way, feed entries included), in order,
// in the same transaction. Booleans are literals both dialects read
// (SQLite keeps them as 0 and 1).
func UserUpdate(userID string, up store.UserUpdate) []Stmt {
	at := Micros(up.At)
	var out []Stmt
	add := func(on bool, q string, args ...any) {
		if on {
			out = append(out, Stmt{q, args})
		}
	}
	add(up.Disable, "UPDATE users SET disabled_at = $1 WHERE id = $2 AND disabled_at IS NULL", at, userID)
	add(up.Enable, "UPDATE users SET disabled_at = NULL WHERE id = $1", userID)
	add(up.PasswordHash != "", "UPDATE users SET password_hash = $1, password_changed_at = $2, must_change_password = $3 WHERE id = $4",
		up.PasswordHash, at, up.MustChangePassword, userID)
	// Erasing: the tokens of the user's sessions, the sessions' personal
	// data, then the user row becomes a tombstone.
	add(up.Erase, "DELETE FROM refresh_tokens WHERE session_id IN (SELECT id FROM sessions WHERE user_id = $1)", userID)
	add(up.Erase, "DELETE FROM access_tokens WHERE session_id <> '' AND session_id IN (SELECT id FROM sessions WHERE user_id = $1)", userID)
	add(up.Erase, "UPDATE sessions SET ip = '', user_agent = '' WHERE user_id = $1", userID)
	add(up.Erase, `UPDATE users SET username = $1, password_hash = '', must_change_password = false,
		deleted_at = $2, disabled_at = coalesce(disabled_at, $2) WHERE id = $3`, up.Tombstone, at, userID)
	return out
}
