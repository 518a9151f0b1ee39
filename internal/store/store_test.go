package store_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/twostep/twostep"
	"github.com/twostep/twostep/internal/dbtest"
	"github.com/twostep/twostep/internal/store"
)

func TestTheQueryModeInDatabaseURLIsTheModeOfEveryQueryThePlanPerCallOnesToo(t *testing.T) {
	t.Parallel()
	base := dbtest.URL(t)
	tests := []struct {
		mode           string // default_query_exec_mode in DATABASE_URL; "" for none
		pool, planEach pgx.QueryExecMode
	}{
		// The default keeps named statements, whose generic plans the
		// claims and the sent record must not run from.
		{"", pgx.QueryExecModeCacheStatement, pgx.QueryExecModeCacheDescribe},
		{"cache_statement", pgx.QueryExecModeCacheStatement, pgx.QueryExecModeCacheDescribe},
		// The modes for PgBouncer are kept everywhere.
		{"simple_protocol", pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeSimpleProtocol},
		{"exec", pgx.QueryExecModeExec, pgx.QueryExecModeExec},
		// These plan each call already.
		{"cache_describe", pgx.QueryExecModeCacheDescribe, pgx.QueryExecModeCacheDescribe},
		{"describe_exec", pgx.QueryExecModeDescribeExec, pgx.QueryExecModeDescribeExec},
	}
	for _, tt := range tests {
		t.Run("mode="+tt.mode, func(t *testing.T) {
			u, err := url.Parse(base)
			if err != nil {
				t.Fatal(err)
			}
			q := u.Query()
			q.Del("default_query_exec_mode") // TEST_DATABASE_URL may set one
			if tt.mode != "" {
				q.Set("default_query_exec_mode", tt.mode)
			}
			u.RawQuery = q.Encode()
			db, err := store.Open(context.Background(), u.String())
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if got := db.Pool.Config().ConnConfig.DefaultQueryExecMode; got != tt.pool {
				t.Errorf("pool mode %v, want %v", got, tt.pool)
			}
			if got := store.PlanEach(db); got != tt.planEach {
				t.Errorf("plan-per-call mode %v, want %v", got, tt.planEach)
			}
		})
	}
}

func TestMigrateWithAPoolOfOneConnectionSaysItNeedsTwoInsteadOfWaitingForEver(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	migrated := dbtest.URL(t)
	admin, err := pgx.Connect(ctx, migrated)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	var b [6]byte
	rand.Read(b[:])
	name := "twostep_store_test_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") })

	for _, tt := range []struct {
		name, path string
		wantErr    bool
	}{
		{"a new database", "/" + name, true},
		{"a migrated one", "", false}, // nothing to apply: no lock taken
	} {
		u, err := url.Parse(migrated)
		if err != nil {
			t.Fatal(err)
		}
		if tt.path != "" {
			u.Path = tt.path
		}
		q := u.Query()
		q.Set("pool_max_conns", "1")
		u.RawQuery = q.Encode()
		db, err := store.Open(ctx, u.String())
		if err != nil {
			t.Fatal(err)
		}
		err = db.Migrate(ctx, twostep.Migrations, slog.New(slog.DiscardHandler))
		db.Close()
		if got := err != nil && strings.Contains(err.Error(), "pool_max_conns is 1"); got != tt.wantErr || (!tt.wantErr && err != nil) {
			t.Errorf("Migrate %s with pool_max_conns=1: %v; want an error naming pool_max_conns: %v", tt.name, err, tt.wantErr)
		}
	}
}

func TestTheMigrationLockTriesAgainWhileAnotherCopyHoldsItButNotAfterAServerError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want bool
	}{
		// goose's table locker's words when the row is taken.
		{"held by another copy", errors.New("acquire lock 1: already held by another instance"), true},
		{"a lost connection", fmt.Errorf("acquire lock 1: %w", errors.New("unexpected EOF")), true},
		{"a serialization failure", fmt.Errorf("acquire lock 1: %w", &pgconn.PgError{Code: "40001"}), true},
		{"a deadlock", fmt.Errorf("acquire lock 1: %w", &pgconn.PgError{Code: "40P01"}), true},
		{"a missing privilege", fmt.Errorf("acquire lock 1: %w", &pgconn.PgError{Code: "42501"}), false},
		{"a prepared statement left by another client", fmt.Errorf("acquire lock 1: %w", &pgconn.PgError{Code: "42P05"}), false},
	}
	for _, tt := range tests {
		if got := store.LockRetryable(tt.err); got != tt.want {
			t.Errorf("%s (%v): try again %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}
