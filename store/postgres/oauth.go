package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/store/sqlrow"
	"github.com/tessera-auth/tessera/token"
)

func (s *Store) CreateClient(ctx context.Context, c store.Client) error {
	_, err := s.execOne(ctx, "INSERT INTO clients ("+sqlrow.ClientCols+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)", sqlrow.ClientArgs(c)...)
	if isUniqueViolation(err) {
		return fmt.Errorf("postgres: create client: %w", store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("postgres: create client: %w", err)
	}
	return nil
}

func (s *Store) ClientByID(ctx context.Context, id string) (store.Client, error) {
	c, err := scanClient(s.pool.QueryRow(ctx, "SELECT "+sqlrow.ClientCols+" FROM clients WHERE id = $1", id))
	if err != nil {
		return store.Client{}, fmt.Errorf("postgres: client: %w", err)
	}
	return c, nil
}

func (s *Store) ListClients(ctx context.Context) ([]store.Client, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+sqlrow.ClientCols+" FROM clients ORDER BY name COLLATE \"C\"")
	if err != nil {
		return nil, fmt.Errorf("postgres: list clients: %w", err)
	}
	defer rows.Close()
	out, err := sqlrow.All(rows, sqlrow.Client)
	if err != nil {
		return nil, fmt.Errorf("postgres: list clients: %w", err)
	}
	return out, nil
}

func insertRefresh(ctx context.Context, tx pgx.Tx, t store.RefreshToken) error {
	_, err := tx.Exec(ctx, "INSERT INTO refresh_tokens ("+sqlrow.RefreshCols+") VALUES ($1, $2, $3, $4, $5, $6, NULL)",
		t.Hash[:], t.SessionID, t.ClientID, t.Scope, sqlrow.Micros(t.CreatedAt), sqlrow.Micros(t.ExpiresAt))
	return err
}

func (s *Store) CreateRefreshToken(ctx context.Context, t store.RefreshToken) error {
	err := s.tx(ctx, func(tx pgx.Tx) error { return insertRefresh(ctx, tx, t) })
	if isUniqueViolation(err) {
		return fmt.Errorf("postgres: create refresh token: %w", store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("postgres: create refresh token: %w", err)
	}
	return nil
}

func (s *Store) RefreshTokenByHash(ctx context.Context, h token.Hash) (store.RefreshToken, error) {
	t, err := found(sqlrow.RefreshToken(s.pool.QueryRow(ctx, "SELECT "+sqlrow.RefreshCols+" FROM refresh_tokens WHERE token_hash = $1", h[:])))
	if err != nil {
		return store.RefreshToken{}, fmt.Errorf("postgres: refresh token: %w", err)
	}
	return t, nil
}

func (s *Store) CreateAccessToken(ctx context.Context, t store.AccessToken) error {
	_, err := s.execOne(ctx, "INSERT INTO access_tokens ("+sqlrow.AccessCols+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
		t.Hash[:], t.ID, t.ClientID, t.Subject, t.Scope, t.SessionID, sqlrow.Micros(t.CreatedAt), sqlrow.Micros(t.ExpiresAt))
	if isUniqueViolation(err) {
		return fmt.Errorf("postgres: create access token: %w", store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("postgres: create access token: %w", err)
	}
	return nil
}

func (s *Store) AccessTokenByHash(ctx context.Context, h token.Hash) (store.AccessToken, error) {
	t, err := found(sqlrow.AccessToken(s.pool.QueryRow(ctx, "SELECT "+sqlrow.AccessCols+" FROM access_tokens WHERE token_hash = $1", h[:])))
	if err != nil {
		return store.AccessToken{}, fmt.Errorf("postgres: access token: %w", err)
	}
	return t, nil
}

func scanClient(row sqlrow.Scanner) (store.Client, error) { return found(sqlrow.Client(row)) }
