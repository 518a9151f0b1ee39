// Package store holds all of twostep's SQL, over a pgx connection pool. It
// is the only package that talks to PostgreSQL; a file per table.
package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"runtime"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// DB is the store: a pgx pool. It reads no clock: every write that
// records a time takes it from the caller, whose clock tests and `send
// --now` set.
type DB struct {
	Pool *pgxpool.Pool
}

// Open connects to the database at url. When the database does not exist
// and the role may create it, it is created first.
func Open(ctx context.Context, url string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database URL: %w", err)
	}
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = DefaultMaxConns()
	}
	if err := ensureDatabase(ctx, cfg); err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to database %s: %w", cfg.ConnConfig.Database, err)
	}
	return &DB{Pool: pool}, nil
}

// ensureDatabase creates the configured database when the server says it
// does not exist (SQLSTATE 3D000) and the role is allowed to.
func ensureDatabase(ctx context.Context, cfg *pgxpool.Config) error {
	conn, err := pgx.ConnectConfig(ctx, cfg.ConnConfig.Copy())
	if err == nil {
		return conn.Close(ctx)
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "3D000" {
		return fmt.Errorf("connect to database %s: %w", cfg.ConnConfig.Database, err)
	}
	admin := cfg.ConnConfig.Copy()
	admin.Database = "postgres"
	aconn, err := pgx.ConnectConfig(ctx, admin)
	if err != nil {
		return fmt.Errorf("connect to the postgres database to create %s: %w", cfg.ConnConfig.Database, err)
	}
	defer aconn.Close(ctx)
	_, err = aconn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{cfg.ConnConfig.Database}.Sanitize())
	if err != nil && !(errors.As(err, &pgErr) && pgErr.Code == "42P04") { // created meanwhile by another copy
		return fmt.Errorf("create database %s: %w", cfg.ConnConfig.Database, err)
	}
	return nil
}

// DefaultMaxConns is the pool size when DATABASE_URL sets no
// pool_max_conns: four per CPU, at least 8. pgxpool's own default,
// max(4, CPUs), makes the send workers wait on the pool; many more than a
// few per CPU only lengthens PostgreSQL's tail latency (BenchmarkSignup's
// p99 at 32 clients on 2 CPUs: about 60 ms with 8, 230 ms with 40).
func DefaultMaxConns() int32 {
	return int32(max(8, 4*runtime.NumCPU()))
}

// Close releases the pool.
func (db *DB) Close() { db.Pool.Close() }

// Ping reports whether the database answers.
func (db *DB) Ping(ctx context.Context) error { return db.Pool.Ping(ctx) }

// migrationLockID is the advisory lock that keeps two copies starting at
// once from applying migrations together.
const migrationLockID = 0x7477_6f73_7465_70 // "twostep"

// Migrate applies the migrations in fsys that the database lacks. Running it
// again changes nothing.
func (db *DB) Migrate(ctx context.Context, fsys fs.FS, log *slog.Logger) error {
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(migrationLockID))
	if err != nil {
		return fmt.Errorf("migration lock: %w", err)
	}
	sqlDB := stdlib.OpenDBFromPool(db.Pool)
	defer sqlDB.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, fsys, goose.WithSessionLocker(locker))
	if err != nil {
		return fmt.Errorf("load migrations: %w", err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("apply migrations: %w", err)
	}
	for _, r := range results {
		log.Info("migration applied", "version", r.Source.Version, "file", r.Source.Path, "took", r.Duration)
	}
	return nil
}

// SecretKey returns the token signing key: configured when given, else the
// one generated on first start and kept in the database so that every copy
// signs alike.
func (db *DB) SecretKey(ctx context.Context, configured string) ([]byte, error) {
	if configured != "" {
		return []byte(configured), nil
	}
	buf := make([]byte, 32)
	if _, err := rand.Read(buf); err != nil {
		return nil, fmt.Errorf("generate secret key: %w", err)
	}
	var key string
	// The no-op update makes RETURNING give the stored value on conflict.
	err := db.Pool.QueryRow(ctx, `
		INSERT INTO settings (key, value) VALUES ('secret_key', $1)
		ON CONFLICT (key) DO UPDATE SET key = EXCLUDED.key
		RETURNING value`, hex.EncodeToString(buf)).Scan(&key)
	if err != nil {
		return nil, fmt.Errorf("load secret key: %w", err)
	}
	return hex.DecodeString(key)
}

// inTx runs fn in a transaction, committing when it returns nil.
func (db *DB) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	tx, err := db.Pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit(ctx)
}
