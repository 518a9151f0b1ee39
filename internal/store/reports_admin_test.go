package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/twostep/twostep/internal/dbtest"
	"github.com/twostep/twostep/internal/drip"
	"github.com/twostep/twostep/internal/store"
)

// planOf is the plan PostgreSQL picks for sql with sequential scans
// priced out, so the plan shows whether an index can serve the query at
// all (a test table is too small for the planner to prefer one).
func planOf(t *testing.T, db *store.DB, sql string, args ...any) string {
	t.Helper()
	ctx := context.Background()
	var plan []string
	err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL enable_seqscan = off`); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, "EXPLAIN "+sql, args...)
		if err != nil {
			return err
		}
		plan, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(plan, "\n")
}

func TestTheDashboardsPerLessonCountAndTheSuppressionSearchEachReadOneIndex(t *testing.T) {
	db := dbtest.New(t)
	if plan := planOf(t, db, store.ReportsByLessonSQL); !strings.Contains(plan, "Index Only Scan using reports_lesson_kind_idx") {
		t.Errorf("the per-lesson count is not an index-only scan of reports_lesson_kind_idx:\n%s", plan)
	}
	if plan := planOf(t, db, store.SuppressionsSQL, "ann%", "", 51); !strings.Contains(plan, "suppressions_email_c_idx") {
		t.Errorf("the suppression search does not use suppressions_email_c_idx:\n%s", plan)
	}
}

func TestReportsByLessonCountsEachKindPerLessonAndPutsMailThatWasNoLessonUnderZero(t *testing.T) {
	ctx := context.Background()
	db := dbtest.New(t)
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	rows := []struct {
		lesson *int
		kind   drip.ReportKind
	}{
		{ptr(2), drip.ReportHard}, {ptr(2), drip.ReportHard}, {ptr(2), drip.ReportComplaint},
		{ptr(5), drip.ReportSoft}, {nil, drip.ReportHard}, {nil, drip.ReportComplaint},
	}
	for i, r := range rows {
		if _, err := db.Pool.Exec(ctx, `INSERT INTO reports (provider, event_id, kind, lesson, outcome, received_at)
			VALUES ('generic', $1, $2, $3, 'no_change', $4)`, fmt.Sprint(i), r.kind, r.lesson, now); err != nil {
			t.Fatal(err)
		}
	}
	got, err := db.ReportsByLesson(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]store.LessonReports{2: {Hard: 2, Complaint: 1}, 5: {Soft: 1}, 0: {Hard: 1, Complaint: 1}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("ReportsByLesson = %v, want %v", got, want)
	}
}

func TestSuppressionsPageByAddressFromThePrefixWithoutGapsOrRepeats(t *testing.T) {
	ctx := context.Background()
	db := dbtest.New(t)
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	if _, err := db.Pool.Exec(ctx, `INSERT INTO suppressions (email, reason, created_at)
		SELECT 'a' || lpad(g::text, 3, '0') || '@example.org', 'hard', $1::timestamptz FROM generate_series(1, 25) g
		UNION ALL SELECT 'b_1@example.org', 'complaint', $1`, now); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		prefix string
		want   int
	}{{"", 26}, {"A0", 25}, {"a01", 10}, {"b_", 1}, {"a_", 0}, {"%", 0}}
	for _, c := range cases {
		var seen []string
		q := store.SuppressionQuery{Email: c.prefix, Limit: 7}
		for range 10 {
			p, err := db.Suppressions(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range p.Suppressions {
				seen = append(seen, s.Email)
			}
			if p.Next == "" {
				break
			}
			q.After = p.Next
		}
		if len(seen) != c.want {
			t.Errorf("prefix %q: %d addresses, want %d", c.prefix, len(seen), c.want)
		}
		for i := 1; i < len(seen); i++ {
			if seen[i] <= seen[i-1] {
				t.Errorf("prefix %q: %s after %s, not in address order without repeats", c.prefix, seen[i], seen[i-1])
			}
		}
	}
}

func TestLiftingASuppressionKeepsTheAddressOutOfTheAuditLogAndAnUnknownAddressIsNotFound(t *testing.T) {
	ctx := context.Background()
	db := dbtest.New(t)
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	if _, err := db.Pool.Exec(ctx, `INSERT INTO suppressions (email, reason, created_at) VALUES ('gone@example.org', 'complaint', $1)`, now); err != nil {
		t.Fatal(err)
	}
	a := store.AdminAction{Actor: "owner@example.com", IP: "192.0.2.1", At: now}
	if err := db.LiftSuppression(ctx, "nobody@example.org", a); !errors.Is(err, drip.ErrNotFound) {
		t.Fatalf("lifting an address not suppressed = %v, want drip.ErrNotFound", err)
	}
	if err := db.LiftSuppression(ctx, "Gone@Example.org", a); err != nil {
		t.Fatal(err)
	}
	if ok, err := db.Suppressed(ctx, "gone@example.org"); err != nil || ok {
		t.Fatalf("after the lift Suppressed = %v, %v", ok, err)
	}
	entries, _, err := db.AuditLog(ctx, store.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Action != "suppression.lift" || entries[0].Before["reason"] != "complaint" {
		t.Fatalf("audit log = %+v, want one suppression.lift with the reason", entries)
	}
	if s := fmt.Sprint(entries[0]); strings.Contains(s, "gone@") {
		t.Errorf("the audit entry holds the address: %s", s)
	}
}

func ptr(n int) *int { return &n }
