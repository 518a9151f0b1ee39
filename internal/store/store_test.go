package store_test

import (
	"context"
	"net/url"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/twostep/twostep/internal/dbtest"
	"github.com/twostep/twostep/internal/store"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func TestTheQueryModeInDatabaseURLIsTheModeOfEveryQueryThePlanPerCallOnesToo(t *testing.T) {
	t.Parallel()
	base := dbtest.URL(t)
	tests := []struct {
		mode           string // default_query_exec_mode in DATABASE_URL; "" for none
		pool, planEach pgx.QueryExecMode
	}{
		// The default keeps named statements, whose generic plans the
		// claims and the sent record must not run from.
		{"", pgx.QueryExecModeCacheStatement, pgx.QueryExecModeExec},
		{"cache_statement", pgx.QueryExecModeCacheStatement, pgx.QueryExecModeExec},
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
			if tt.mode != "" {
				q := u.Query()
				q.Set("default_query_exec_mode", tt.mode)
				u.RawQuery = q.Encode()
			}
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
