package postgres

import (
	"context"
	"time"
)

// ShowForTest returns a server setting as one of the pool's connections sees it.
func (s *Store) ShowForTest(ctx context.Context, name string) (string, error) {
	var v string
	err := s.pool.QueryRow(ctx, "SELECT current_setting($1)", name).Scan(&v)
	return v, err
}

// MaxConnsForTest returns the pool's connection limit.
func (s *Store) MaxConnsForTest() int32 { return s.pool.Config().MaxConns }

// SetForTest changes a setting for the session of one pooled connection.
func (s *Store) SetForTest(ctx context.Context, name, value string) error {
	_, err := s.pool.Exec(ctx, "SELECT set_config($1, $2, false)", name, value)
	return err
}

// PIDForTest returns the listening backend's process id; 0 while disconnected.
func (l *Listener) PIDForTest() uint32 { return l.pid.Load() }

// ChannelForTest returns the store's NOTIFY channel.
func (s *Store) ChannelForTest() string { return s.channel }

// VersionsForTest returns the embedded migrations' versions, in order.
func VersionsForTest() []int {
	var vs []int
	for _, m := range migrations {
		vs = append(vs, m.Version)
	}
	return vs
}

// SetListenIdleForTest changes how long new listeners wait before checking
// a silent connection, until the test ends.
func SetListenIdleForTest(t interface{ Cleanup(func()) }, d time.Duration) {
	old := listenIdle
	listenIdle = d
	t.Cleanup(func() { listenIdle = old })
}
