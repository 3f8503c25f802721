package app

import (
	"context"
	"time"

	"github.com/tessera-auth/tessera/detect"
	"github.com/tessera-auth/tessera/detect/storestate"
)

// DetectState is where detection rules keep what they have seen, shared
// by every node of the cluster: in Redis when one is configured, which
// falls back to local (this process's own state; nil: a minimal one)
// while it is down; otherwise in the store, which every node sharing it
// sees (docs/detection.md, "Shared state").
func (a *App) DetectState(local detect.State) detect.State {
	if a.Redis != nil {
		return a.Redis.Detect(local)
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
