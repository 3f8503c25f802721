package event

import (
	"context"
	"log/slog"
)

// Logger is the logging subscriber: one structured line per event of the
// kinds in LogKinds, with the event's fields (redacted, see Event.LogValue)
// at the top level of the line.
type Logger struct{ log *slog.Logger }

// NewLogger returns a logging subscriber writing to log.
func NewLogger(log *slog.Logger) *Logger { return &Logger{log: log} }

// Kinds are the kinds worth a log line: the state changes and the
// warnings. Per-request kinds (validation, issuance, introspection) are
// left to metrics, audit and detection.
func (l *Logger) Kinds() []Kind {
	return []Kind{LoginFailed, SessionCreated, SessionRevoked, RefreshGraceRetry, RefreshReused, TokenRevoked, KeyRotated, KeyRevoked, TokenProbeThrottled, AdminAction, MFAFailed, FactorChanged, Reauthenticated}
}

// Publish logs e.
func (l *Logger) Publish(ctx context.Context, e Event) {
	lvl, msg := slog.LevelInfo, e.Kind.String()
	switch e.Kind {
	case LoginFailed:
		msg = "login failed"
		if e.Reason == ReasonThrottled {
			lvl, msg = slog.LevelWarn, "login throttled"
		}
	case SessionCreated:
		msg = "session started"
	case SessionRevoked:
		msg = "sessions ended"
		if e.Count == 1 {
			msg = "session ended"
		}
	case RefreshReused:
		lvl, msg = slog.LevelWarn, "refresh token reuse: session family revoked"
	case TokenRevoked:
		msg = "token revoked"
	case KeyRotated:
		msg = "signing key rotated"
	case KeyRevoked:
		lvl, msg = slog.LevelWarn, "signing key revoked"
	case RefreshGraceRetry:
		msg = "refresh token grace retry"
	case TokenProbeThrottled:
		lvl, msg = slog.LevelWarn, "token probing throttled"
	case AdminAction:
		msg = "admin: " + e.Action
	case MFAFailed:
		lvl, msg = slog.LevelWarn, "second factor refused"
	case FactorChanged:
		msg = "second factors changed: " + e.Action
	case Reauthenticated:
		msg = "step-up: session renewed"
	}
	if !l.log.Enabled(ctx, lvl) {
		return
	}
	l.log.LogAttrs(ctx, lvl, msg, e.Attrs()...)
}
