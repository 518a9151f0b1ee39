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

func TestAReportActsOnTheReaderItNamesOnceAndSuppressesTheAddress(t *testing.T) {
	db := dbtest.New(t)
	ctx := context.Background()
	ann := signedUp(t, db, "ann@example.com", true)
	bob := signedUp(t, db, "bob@example.com", true)
	report := func(id string, kind drip.ReportKind, email string) drip.Report {
		return drip.Report{Provider: drip.ProviderGeneric, ID: id, Kind: kind, Email: email, Reason: "550 no such user", At: now}
	}
	batch := drip.ReportBatch{Provider: drip.ProviderGeneric, Reports: []drip.Report{
		report("r1", drip.ReportHard, "ANN@example.com"),
		report("r2", drip.ReportComplaint, "bob@example.com"),
		report("r3", drip.ReportHard, "nobody@example.com"),
	}}
	got, err := db.RecordReports(ctx, now, batch)
	if err != nil || len(got) != 3 {
		t.Fatalf("record: %+v, %v", got, err)
	}
	want := []struct {
		id      int64
		outcome drip.ReportOutcome
	}{{ann.ID, drip.OutcomeBounced}, {bob.ID, drip.OutcomeUnsubscribed}, {0, drip.OutcomeUnmatched}}
	for i, w := range want {
		if got[i].SubscriberID != w.id || got[i].Outcome != w.outcome {
			t.Errorf("report %s: subscriber %d, %s; want %d, %s", got[i].ID, got[i].SubscriberID, got[i].Outcome, w.id, w.outcome)
		}
	}
	for email, status := range map[string]drip.Status{"ann@example.com": drip.StatusBounced, "bob@example.com": drip.StatusUnsubscribed} {
		s, _ := db.SubscriberByEmail(ctx, email)
		if s.Status != status {
			t.Errorf("%s is %s, want %s", email, s.Status, status)
		}
		if ok, err := db.Suppressed(ctx, strings.ToUpper(email)); err != nil || !ok {
			t.Errorf("%s is not suppressed in any letter case (%v)", email, err)
		}
	}
	if ok, _ := db.Suppressed(ctx, "carol@example.com"); ok {
		t.Error("an address no report named is suppressed")
	}

	// The same report again (the provider retried) is stored once and acts on nobody.
	again, err := db.RecordReports(ctx, now, drip.ReportBatch{Provider: drip.ProviderGeneric, Reports: batch.Reports[:1]})
	if err != nil || len(again) != 0 {
		t.Fatalf("the same report again: %+v, %v; want nothing fresh", again, err)
	}
	if n := count(t, db, `SELECT count(*) FROM reports`); n != 3 {
		t.Fatalf("%d reports stored, want 3", n)
	}
}

func TestABatchWhoseOneTimeTokenWasSeenBeforeIsARefusedReplayAndChangesNothing(t *testing.T) {
	db := dbtest.New(t)
	ctx := context.Background()
	ann := signedUp(t, db, "ann@example.com", true)
	b := drip.ReportBatch{Provider: drip.ProviderMailgun, ReplayKey: "token-1"}
	if _, err := db.RecordReports(ctx, now, b); err != nil {
		t.Fatal(err)
	}
	b.Reports = []drip.Report{{Provider: drip.ProviderMailgun, ID: "m1", Kind: drip.ReportHard, Email: ann.Email, At: now}}
	if _, err := db.RecordReports(ctx, now, b); !errors.Is(err, drip.ErrReplay) {
		t.Fatalf("the token again: %v, want drip.ErrReplay", err)
	}
	if s, _ := db.SubscriberByID(ctx, ann.ID); s.Status != drip.StatusActive {
		t.Fatalf("a replayed batch changed the reader to %s", s.Status)
	}
	if n := count(t, db, `SELECT count(*) FROM reports`); n != 0 {
		t.Fatalf("a replayed batch stored %d reports", n)
	}
}

// planOf is the plan PostgreSQL picks for sql with sequential scans
// priced out, so the plan shows whether an index can serve the query at
// all (a test table is too small for the planner to prefer one).
func planOf(t *testing.T, db *store.DB, sql string, args ...any) string {
	t.Helper()
	return planAfter(t, db, []string{`SET LOCAL enable_seqscan = off`}, sql, args...)
}

// planAfter is the plan of sql (EXPLAIN's output, a line a node) in a
// transaction that first runs setup: settings, a PREPARE.
func planAfter(t *testing.T, db *store.DB, setup []string, sql string, args ...any) string {
	t.Helper()
	ctx := context.Background()
	var plan []string
	err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		for _, s := range setup {
			if _, err := tx.Exec(ctx, s); err != nil {
				return fmt.Errorf("%s: %w", s, err)
			}
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
