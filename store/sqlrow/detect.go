package sqlrow

import "github.com/tessera-auth/tessera/store"

// DetectSeenCols are detect_seen's columns DetectSeen reads, in order.
const DetectSeenCols = "member, first_at, last_at"

// DetectSeen scans a detect_seen row.
func DetectSeen(row Scanner) (store.DetectSeen, error) {
	var s store.DetectSeen
	var first, last int64
	if err := row.Scan(&s.Member, &first, &last); err != nil {
		return store.DetectSeen{}, err
	}
	s.First, s.Last = FromMicros(first), FromMicros(last)
	return s, nil
}

// The detection-state statements both backends run ($n placeholders;
// SQLite runs them through SQLite). The upserts that merge a sighting or
// count a bucket differ: the dialects name least/greatest apart.
const (
	// DetectForgetSQL deletes key's members last seen before $2.
	DetectForgetSQL = "DELETE FROM detect_seen WHERE key = $1 AND last_at < $2"
	// DetectTrimSQL keeps key's $2 members seen last.
	DetectTrimSQL = `DELETE FROM detect_seen WHERE key = $1 AND member NOT IN
			(SELECT member FROM detect_seen WHERE key = $1 ORDER BY last_at DESC, member LIMIT $2)`
	// DetectSeenSQL lists key's members, seen last first.
	DetectSeenSQL = "SELECT " + DetectSeenCols + " FROM detect_seen WHERE key = $1 ORDER BY last_at DESC, member"
	// DetectOnceSQL claims key until $2 unless a claim holds past $3; it
	// affects one row when the claim is won.
	DetectOnceSQL = `INSERT INTO detect_claims (key, until_at) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET until_at = excluded.until_at WHERE detect_claims.until_at <= $3`
)

// DeleteExpiredDetectSQL are DeleteExpiredDetectState's deletes, each of
// what expired before the cutoff ($1).
var DeleteExpiredDetectSQL = []string{
	"DELETE FROM detect_seen WHERE expires_at < $1",
	"DELETE FROM detect_counts WHERE expires_at < $1",
	"DELETE FROM detect_claims WHERE until_at < $1",
}
