package app

import (
	"context"
	"time"

	"github.com/tessera-auth/tessera/detect"
	"github.com/tessera-auth/tessera/detect/storestate"
)

// DetectState is where detection rules keep what they have seen, shared
// by every node of the cluster (docs/detection.md, "Shared state"):
//
//   - in Redis when one is configured, falling back to local (this
//     process's own state; nil: a detect.Memory) while it is down;
//   - otherwise, on a store several nodes share (PostgreSQL), in the
//     store;
//   - otherwise (SQLite: one node) in local, which costs no write on the
//     store's one writer; in the store if local is nil.
func (a *App) DetectState(local detect.State) detect.State {
	if a.Redis != nil {
		return a.Redis.Detect(local)
	}
	if sh, ok := a.Store.(interface{ Shared() bool }); local != nil && (!ok || !sh.Shared()) {
		return local
	}
	return storestate.New(a.Store)
}

// detectStateKeep is how long past its end detection state stays in the
// store: a node's clock may lag, and rules evaluate events a little after
// they happen.
const detectStateKeep = time.Hour

// collectDetectState deletes the store's detection state that no rule can
// need any more (part of Collect).
func (a *App) collectDetectState(ctx context.Context) {
	n, err := a.Store.DeleteExpiredDetectState(ctx, a.now().Add(-detectStateKeep))
	if err != nil {
		a.log.Warn("expired detection state cleanup failed", "err", err)
	} else if n > 0 {
		a.log.Debug("expired detection state deleted", "count", n)
	}
}
