package oauth

import (
	"crypto/subtle"
	"slices"
	"strings"
	"time"

	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/token"
)

// Reasons a presentation of a refresh token is refused (store.RefreshPlan
// Reason): safe to log, never sent to the client as such.
const (
	ReasonSessionRevoked = "session revoked"
	ReasonSessionExpired = "session expired"
	ReasonTokenExpired   = "refresh token expired"
	ReasonOtherClient    = "refresh token issued to another client"
	// ReasonScopeExceeded: the requested scope is not a subset of the
	// token's; the grant answers invalid_scope rather than invalid_grant.
	ReasonScopeExceeded = "requested scope exceeds the granted scope"
)

// Why a presentation was judged reuse (store.RefreshResult Reason and the
// RefreshReused event's Reason): safe to log.
const (
	ReuseRotated     = "rotated token presented again"
	ReuseOtherOrigin = "grace retry from another network or user agent"
	ReuseGraceSpent  = "second grace retry"
)

// RevokeReasonReuse is the revoke reason of a session whose refresh token
// was reused, on the revocation feed and in the user's device list.
const RevokeReasonReuse = "refresh_reuse"

// Presentation is one presentation of a refresh token, with the policy it
// is judged under.
type Presentation struct {
	ClientID  string     // the presenting client; must be the token's
	Scope     string     // requested scope: "" or a subset of the token's
	Successor token.Hash // the hash of the new token, should it be issued
	Now       time.Time
	TTL       time.Duration // successor lifetime, capped by the session's absolute expiry
	// Grace lets the same client present a just-rotated token again for
	// this long (a retry after a lost response) without it counting as
	// reuse; 0 disables it.
	Grace time.Duration
	// Origin is what identifies where the presentation came from (Service:
	// a keyed hash of the client's network and user agent). A rotation
	// records it; a grace retry must present the same one.
	Origin []byte
	// TouchInterval is how stale the session's last-seen time must be before
	// a rotation writes it, as for any session use; 0 writes it every time.
	TouchInterval time.Duration
}

// DecideRefresh is the refresh-token rotation policy: from the state a
// backend loaded inside its transaction and one presentation, it decides the
// outcome and the writes that carry it out. It is pure; every backend runs it
// under the same atomic primitive (store.RefreshTokens.RotateRefreshToken),
// so the policy is written once. Binding checks (the DPoP "jkt" or mTLS
// certificate thumbprint a public client's family is bound to, RFC 9449 §5
// and RFC 8705 §4) and OIDC offline_access belong here too, with what they
// need added to RefreshState and Presentation: one change, on every backend.
//
// The order of the checks is the policy:
//
//  1. A revoked or expired session, or an expired token: refused.
//  2. A token already used is reuse (RFC 9700 §4.14.2: a rotated refresh
//     token presented again means one copy is in the wrong hands, and the
//     server cannot tell which), decided before the client and scope checks
//     so a thief cannot probe with another client or scope without tripping
//     it. Reuse deletes the family and revokes its session. The only
//     exception is the same client retrying within the grace window while
//     the successor is unused (its answer was lost), from the network and
//     user agent of the rotation (Origin; until DPoP binds retries to a
//     key, the closest a bearer token gets to "the same client instance"),
//     and only once: that retry replaces the successor, which becomes a
//     tombstone, so the family keeps one live chain and a thief winning the
//     retry race cannot fork it, take it over quietly, or collect a pair
//     per parallel replay. A tombstone, a token whose successor is unknown
//     or was used, a retry from elsewhere and a second retry are never
//     forgiven.
//  3. Another client: refused. A scope wider than the token's: refused with
//     ReasonScopeExceeded (RFC 6749 §6: the requested scope MUST NOT include
//     any scope not originally granted).
//  4. Otherwise the token is marked used and the successor stored, with the
//     family's scope (a narrower request narrows only that response's access
//     token, RFC 6749 §6) and an expiry capped by the session's. Using a
//     refresh token is using the session: its last-seen time slides, written
//     at most once per TouchInterval like any session touch.
func DecideRefresh(st store.RefreshState, p Presentation) store.RefreshPlan {
	old, sess, now := st.Token, st.Session, p.Now
	refuse := func(reason string) store.RefreshPlan {
		return store.RefreshPlan{Outcome: store.RefreshRefused, Reason: reason}
	}
	switch {
	case sess.Revoked():
		return refuse(ReasonSessionRevoked)
	case !sess.Live(now): // not revoked: expired, absolutely or idle
		return refuse(ReasonSessionExpired)
	case !now.Before(old.ExpiresAt):
		return refuse(ReasonTokenExpired)
	}
	sameClient := p.ClientID == old.ClientID
	used := !old.UsedAt.IsZero()
	if used {
		retry := !st.Superseded && st.Successor != (token.Hash{}) && !st.SuccessorUsed &&
			sameClient && p.Grace > 0 && now.Sub(old.UsedAt) <= p.Grace
		reason := ReuseRotated
		switch {
		case !retry:
		case subtle.ConstantTimeCompare(st.RotatedBy, p.Origin) != 1:
			retry, reason = false, ReuseOtherOrigin
		case st.GraceUsed:
			retry, reason = false, ReuseGraceSpent
		}
		if !retry {
			return store.RefreshPlan{Outcome: store.RefreshReused, Reason: reason, RevokeReason: RevokeReasonReuse, RevokedAt: now}
		}
	}
	switch {
	case !sameClient:
		return refuse(ReasonOtherClient)
	case p.Scope != "" && !subset(p.Scope, old.Scope):
		return refuse(ReasonScopeExceeded)
	}
	exp := now.Add(p.TTL)
	if sess.ExpiresAt.Before(exp) {
		exp = sess.ExpiresAt
	}
	plan := store.RefreshPlan{
		Outcome:   store.RefreshRotated,
		Successor: store.RefreshToken{Hash: p.Successor, SessionID: old.SessionID, ClientID: old.ClientID, Scope: old.Scope, CreatedAt: now, ExpiresAt: exp},
		UsedAt:    now,
		RotatedBy: p.Origin,
	}
	if used {
		// The grace window keeps counting from the first use, and the
		// token's one retry is spent.
		plan.Outcome, plan.UsedAt = store.RefreshGraceRetry, old.UsedAt
		plan.Supersede, plan.SupersededAt = st.Successor, now
		plan.RotatedBy, plan.GraceUsed = st.RotatedBy, true
	}
	if now.Sub(sess.LastSeenAt) >= p.TouchInterval {
		plan.TouchAt = now
	}
	return plan
}

// subset reports whether every space-separated scope in want is in have.
func subset(want, have string) bool {
	h := strings.Fields(have)
	for _, w := range strings.Fields(want) {
		if !slices.Contains(h, w) {
			return false
		}
	}
	return true
}
