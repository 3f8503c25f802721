package postgres

import "context"

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

// MigrationVersionsForTest lists the embedded migrations' versions, in
// order; gaps are allowed (helpers are assigned number ranges).
func MigrationVersionsForTest() []int {
	var vs []int
	for _, m := range migrations {
		vs = append(vs, m.Version)
	}
	return vs
}
