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
