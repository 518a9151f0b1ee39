package store_test

import (
	"bytes"
	"context"
	"flag"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/dbtest"
	"github.com/twostep/twostep/internal/store"
)

var (
	ledgerN     = flag.Int("ledger-n", 10_000, "due readers in BenchmarkLedger")
	ledgerClaim = flag.Int("ledger-claim", 500, "readers one claim takes in BenchmarkLedger (a pass's default batch)")
	ledgerGroup = flag.Int("ledger-group", 24, "deliveries one record writes in BenchmarkLedger (a pass's over 8 connections)")
	ledgerSQL   = flag.String("ledger-sql", "", "SQL BenchmarkLedger runs on its fresh database first, to try a change of schema (an index dropped, a trigger disabled) against the same statements")
)

// oneConn is a pool of one connection to the database at base, so that its
// PostgreSQL backend's CPU is that of what runs over it alone.
func oneConn(b *testing.B, base string) *store.DB {
	return dbtest.Open(b, dbtest.WithConns(b, base, 1))
}

// pidCPU is the CPU time db's one backend has used.
func pidCPU(b *testing.B, db *store.DB) time.Duration {
	var pid int
	if err := db.Pool.QueryRow(context.Background(), `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		b.Fatal(err)
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		b.Fatal(err)
	}
	f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+s) * 10 * time.Millisecond
}

// ledgerSetup runs -ledger-sql on db, then imports a course of 52 lessons.
func ledgerSetup(b *testing.B, db *store.DB) {
	ctx := context.Background()
	if *ledgerSQL != "" {
		if _, err := db.Pool.Exec(ctx, *ledgerSQL); err != nil {
			b.Fatal(err)
		}
	}
	files := []store.LessonFile{}
	for i := 1; i <= 52; i++ {
		files = append(files, store.LessonFile{Number: i, Source: []byte("lesson " + strconv.Itoa(i))})
	}
	if _, err := db.SyncLessons(ctx, files, now); err != nil {
		b.Fatal(err)
	}
}

// seedLedgerReaders replaces every subscriber with n active readers due at
// due, vacuumed and analysed, and checkpoints.
func seedLedgerReaders(b *testing.B, db *store.DB, n int, due time.Time) {
	for _, sql := range []string{
		`TRUNCATE subscribers, deliveries RESTART IDENTITY CASCADE`,
		`WITH s AS (
			INSERT INTO subscribers (email, name, status, time_zone, send_weekday, send_hour, consent_at, confirmed_at)
			SELECT 'reader' || g || '@example.com', 'Reader ' || g, 'active', 'Europe/Berlin', 1, 8, $2, $2
			FROM generate_series(1, $1::int) g
			RETURNING id)
		 INSERT INTO schedule (subscriber_id, lesson, due_at, active) SELECT id, 1, $2, true FROM s`,
		`VACUUM ANALYZE subscribers, schedule, deliveries`,
		`CHECKPOINT`,
	} {
		var args []any
		if strings.Contains(sql, "$1") {
			args = []any{n, due}
		}
		if _, err := db.Pool.Exec(context.Background(), sql, args...); err != nil {
			b.Fatalf("%s: %v", sql, err)
		}
	}
}

// BenchmarkLedger runs the pass's statements alone, with no mail and no
// rendering: claims of -ledger-claim on one connection and records of
// groups of -ledger-group on another, over -ledger-n due readers, and
// reports each backend's CPU per message. It is where the pass's
// PostgreSQL µs go, statement by statement; runs at several sizes tell a
// statement's cost per message from its cost per statement, and
// -ledger-sql tries a change of schema against them.
//
//	go test ./internal/store/ -run '^$' -bench BenchmarkLedger -benchtime 3x
func BenchmarkLedger(b *testing.B) {
	ctx := context.Background()
	base := dbtest.URL(b)
	setup := oneConn(b, base)
	ledgerSetup(b, setup)
	claimDB, sentDB := oneConn(b, base), oneConn(b, base)
	n := *ledgerN
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	measureLedger(b, claimDB, sentDB, func() { seedLedgerReaders(b, setup, n, t0.Add(-time.Minute)) }, func() (msgs int) {
		for {
			claims, err := claimDB.ClaimAndBegin(ctx, t0, *ledgerClaim, t0, t0.Add(time.Hour))
			if err != nil {
				b.Fatal(err)
			}
			if len(claims) == 0 {
				break
			}
			next := t0.Add(7 * 24 * time.Hour)
			for i := 0; i < len(claims); i += *ledgerGroup {
				var ds []store.Delivered
				for _, c := range claims[i:min(i+*ledgerGroup, len(claims))] {
					ds = append(ds, store.Delivered{Sub: c.Sub, Attempt: *c.Attempt, MessageID: strconv.FormatInt(c.Sub.ID, 10) + "@twostep.example",
						Reply: "250 2.0.0 Ok: queued as ABC", At: t0, NextDue: &next})
				}
				for _, r := range sentDB.Sent(ctx, ds) {
					if r.Err != nil {
						b.Fatal(r.Err)
					}
				}
				msgs += len(ds)
			}
		}
		return msgs
	})
}

// measureLedger runs b's loop: seed puts the due readers in place, pass
// claims them on claimDB and records them on sentDB until none is due and
// returns how many it recorded; it reports each backend's CPU per message,
// and their sum.
func measureLedger(b *testing.B, claimDB, sentDB *store.DB, seed func(), pass func() int) {
	var claimCPU, sentCPU time.Duration
	var msgs int
	for b.Loop() {
		b.StopTimer()
		seed()
		c0, s0 := pidCPU(b, claimDB), pidCPU(b, sentDB)
		b.StartTimer()
		msgs += pass()
		b.StopTimer()
		claimCPU += pidCPU(b, claimDB) - c0
		sentCPU += pidCPU(b, sentDB) - s0
		b.StartTimer()
	}
	b.ReportMetric(float64(claimCPU.Microseconds())/float64(msgs), "claim-us/msg")
	b.ReportMetric(float64(sentCPU.Microseconds())/float64(msgs), "sent-us/msg")
	b.ReportMetric(float64((claimCPU+sentCPU).Microseconds())/float64(msgs), "pg-us/msg")
}
