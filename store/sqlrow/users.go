package sqlrow

import "github.com/tessera-auth/tessera/store"

// The user statements both backends run ($n placeholders; SQLite runs
// them through SQLite).
const (
	UserByIDSQL       = "SELECT " + UserCols + " FROM users WHERE id = $1"
	UserByUsernameSQL = "SELECT " + UserCols + " FROM users WHERE username = $1"
)

// UserSessionsSQL selects the ids of user $1's sessions that revoking
// them all at $2 ends.
var UserSessionsSQL = "SELECT id FROM sessions WHERE user_id = $1 AND " + UnexpiredSession(2)

// UserStateConds are the conditions of q on a user's state (disabled,
// erased), which take no arguments; the page bounds and the username
// prefix are each backend's.
func UserStateConds(q store.UserQuery) []string {
	var conds []string
	if q.Disabled != nil {
		if *q.Disabled {
			conds = append(conds, "disabled_at IS NOT NULL")
		} else {
			conds = append(conds, "disabled_at IS NULL")
		}
	}
	if !q.Deleted {
		conds = append(conds, "deleted_at IS NULL")
	}
	return conds
}
