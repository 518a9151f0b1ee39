// Package store holds all of twostep's SQL, over a pgx connection pool. It
// is the only package that talks to PostgreSQL. Files are grouped by the
// table or aggregate they own, each with its test against a real database:
//
//   - store.go: the pool, migrations, transactions, settings (the secret key)
//   - subscribers.go: subscribers and their events: signup, lookups,
//     confirmation; signup_again.go: a signup of a known address
//   - subscriber_change.go: every change of a reader's standing (drip.Apply),
//     with its event and audit entry
//   - subscribers_profile.go: what readers change of their own: slot, name,
//     address, tries, the data export and erasure
//   - subscribers_search.go: the admin's list, a reader's timeline, resends
//     and erasure; subscribers_csv.go: import and export
//   - deliveries.go: the delivery ledger (claims, records, retries, the
//     sender's pause); outbox.go: the outbox of other mail
//   - lessons.go, lesson_revisions.go: lessons and their revisions
//   - reports.go: bounce and complaint reports and replay keys, recorded
//     and listed; suppressions.go: the suppression list, checked, listed
//     and lifted
//   - dashboard.go: the dashboard's counts, read from the rollups of the
//     ledger and of subscribers (kept by migrations 00008 and 00010)
//   - accounts.go: admin_accounts, admin_sessions, admin_login_attempts;
//     audit.go: admin_audit
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
	"time"

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
	// planEach is the query mode of the statements that must be planned
	// afresh on every call (the claims of lessons and of the outbox): see
	// planEachMode.
	planEach pgx.QueryExecMode
}

// asyncCommit, joined into a statement's FROM, makes the commit of its
// implicit transaction not wait for the disk. It is only for writes whose
// loss in a crash is harmless because nothing is sent on their strength
// before a later ordinary commit, which flushes them too: the claim's
// leases and the signup. Such a statement must run alone, never in a
// pgx.Batch or a transaction: a pipeline shares one implicit transaction
// until its Sync, and the setting would cover the statements after it.
// sentSQL's twostep.ledger_counts and twostep.subscriber_counts settings
// are bound the same way.
const asyncCommit = `(SELECT set_config('synchronous_commit', 'off', true)) AS async`

// Open connects to the database at url. When the database does not exist
// and the role may create it, it is created first (not through PgBouncer:
// see ensureDatabase).
//
// The URL's default_query_exec_mode (pgx's) is the mode of every query:
// through PgBouncer in transaction pooling, default_query_exec_mode=
// simple_protocol (or exec) prepares no named statement on the server, so
// nothing depends on which server connection PgBouncer lends.
func Open(ctx context.Context, url string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database URL: %w", err)
	}
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = DefaultMaxConns()
	}
	// Modes other than the cache modes (simple_protocol and exec, for
	// PgBouncer) know no parameter's type from the server and pick it from
	// the Go type: the events' and the audit's details are jsonb.
	cfg.AfterConnect = func(_ context.Context, conn *pgx.Conn) error {
		conn.TypeMap().RegisterDefaultPgType(map[string]any{}, "jsonb")
		return nil
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
	return &DB{Pool: pool, planEach: planEachMode(cfg.ConnConfig.DefaultQueryExecMode)}, nil
}

// planEachMode is the mode for statements that must never run from a
// cached generic plan, given the pool's configured mode. Only the default,
// cache_statement, keeps a named prepared statement (and so, after five
// runs, may settle on a generic plan); it becomes cache_describe: the
// unnamed statement, planned for its parameters each time, with the
// statement's description cached so that parameters and rows travel in
// binary (exec sends them as text, which cost the pass ~8 µs of Go a
// message to encode and parse). Every other mode already plans each call
// and is kept, so a mode the operator chose for a pooler (simple_protocol
// through PgBouncer) is the mode of every query, these too. Descriptions,
// like the default's prepared statements, are cached per connection: a
// migration that changes the type of a column these statements read wants
// every copy restarted, as upgrading does.
func planEachMode(configured pgx.QueryExecMode) pgx.QueryExecMode {
	if configured == pgx.QueryExecModeCacheStatement {
		return pgx.QueryExecModeCacheDescribe
	}
	return configured
}

// ensureDatabase creates the configured database when the server says it
// does not exist (SQLSTATE 3D000) and the role is allowed to.
//
// Through PgBouncer it does not try: PgBouncer answers for a database it
// cannot reach with a protocol error (08P01) instead, usually serves only
// the databases its configuration lists (not postgres), and creating a
// database is for PostgreSQL itself. That answer gets an error that says
// what to do instead.
func ensureDatabase(ctx context.Context, cfg *pgxpool.Config) error {
	conn, err := pgx.ConnectConfig(ctx, cfg.ConnConfig.Copy())
	if err == nil {
		return conn.Close(ctx)
	}
	var pgErr *pgconn.PgError
	if pgBouncerMissingDatabase(err) {
		name := cfg.ConnConfig.Database
		return fmt.Errorf("database %s does not exist, and twostep cannot create it through PgBouncer: "+
			"create it on PostgreSQL (createdb %s), or run `twostep migrate` once with a DATABASE_URL "+
			"that reaches PostgreSQL directly, then start again through PgBouncer: %w", name, name, err)
	}
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

// pgBouncerMissingDatabase reports whether err is PgBouncer's refusal of a
// database that does not exist: PostgreSQL itself says 3D000, PgBouncer
// (1.18 and later) relays the server's `database "x" does not exist`, or
// says `no such database: x` for one it has no entry for, both as 08P01.
func pgBouncerMissingDatabase(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "08P01" {
		return false
	}
	return strings.HasPrefix(pgErr.Message, "no such database") ||
		(strings.HasPrefix(pgErr.Message, "database ") && strings.HasSuffix(pgErr.Message, " does not exist"))
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

// migrationLockID is the row of goose's lock table that keeps two copies
// starting at once from applying migrations together.
const migrationLockID = 0x7477_6f73_7465_70 // "twostep"

// Migrate applies the migrations in fsys that the database lacks. Running it
// again changes nothing.
//
// Copies that start together take turns through a row in goose's lock
// table (goose_lock), not a session advisory lock: through PgBouncer in
// transaction pooling a session lock is taken on whichever server
// connection the statement was lent and guards nothing after it, while the
// row is the same for every connection. The holder renews its lease every
// 5 s; a copy that died holding it blocks the others for at most the 30 s
// lease. The others try again every second, for up to 5 minutes.
func (db *DB) Migrate(ctx context.Context, fsys fs.FS, log *slog.Logger) error {
	locker, err := lock.NewPostgresTableLocker(
		lock.WithTableLockID(migrationLockID),
		lock.WithTableLockTimeout(time.Second, 300),
		lock.WithTableLogger(log),
		lock.WithTableRetryPolicy(lockRetryable),
	)
	if err != nil {
		return fmt.Errorf("migration lock: %w", err)
	}
	sqlDB := stdlib.OpenDBFromPool(db.Pool)
	defer sqlDB.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, fsys, goose.WithLocker(locker))
	if err != nil {
		return fmt.Errorf("load migrations: %w", err)
	}
	// goose holds one connection while the lock takes another: with a
	// pool of one, applying migrations would wait for ever.
	if n := db.Pool.Config().MaxConns; n < 2 {
		pending, err := p.HasPending(ctx)
		if err != nil {
			return fmt.Errorf("check for migrations to apply: %w", err)
		}
		if pending {
			return fmt.Errorf("apply migrations: they need 2 database connections, and pool_max_conns is %d", n)
		}
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

// isViolation reports whether err is a unique violation, of the named
// constraint or index when one is given.
func isViolation(err error, constraint string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505" && (constraint == "" || pgErr.ConstraintName == constraint)
}

// lockRetryable tells the migration lock which failures to try again: a
// lock held by another copy and a lost connection, not an error the server
// gave (a missing privilege, say), which would only come back for the
// 5 minutes of tries.
func lockRetryable(err error) bool {
	var pgErr *pgconn.PgError
	return !errors.As(err, &pgErr) || strings.HasPrefix(pgErr.Code, "40") // 40: serialization failure, deadlock
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

// keyset cuts the rows of a keyset page, read with LIMIT limit+1 so that
// the extra row tells whether another page follows: the page's rows, and
// their last when one does (its key is the next page's cursor).
func keyset[T any](rows []T, limit int) (page []T, last *T) {
	if len(rows) <= limit {
		return rows, nil
	}
	return rows[:limit], &rows[limit-1]
}

// countByLesson runs sql, whose rows are a lesson number and a count, into
// a map; what names the count in errors.
func (db *DB) countByLesson(ctx context.Context, what, sql string, args ...any) (map[int]int, error) {
	rows, err := db.Pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	out := map[int]int{}
	var n, c int
	if _, err := pgx.ForEachRow(rows, []any{&n, &c}, func() error { out[n] = c; return nil }); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
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
