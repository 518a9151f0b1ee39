package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/twostep/twostep/internal/dbtest"
	"github.com/twostep/twostep/internal/store"
)

func TestSyncingAddsARevisionOnlyForAFileThatChanged(t *testing.T) {
	db := dbtest.New(t)
	ctx := context.Background()
	files := []store.LessonFile{{Number: 1, Source: []byte("one")}, {Number: 2, Source: []byte("two")}}
	if n, err := db.SyncLessons(ctx, files, now); err != nil || n != 2 {
		t.Fatalf("first sync: %d, %v", n, err)
	}
	before, _ := db.CurrentRevisionIDs(ctx)
	files[1].Source = []byte("two, edited")
	if n, err := db.SyncLessons(ctx, files, now); err != nil || n != 1 {
		t.Fatalf("second sync: %d, %v", n, err)
	}
	after, _ := db.CurrentRevisionIDs(ctx)
	if after[1] != before[1] || after[2] == before[2] {
		t.Fatalf("revisions before %v, after %v", before, after)
	}
	revs, err := db.Revisions(ctx, []int64{after[2]})
	if err != nil || len(revs) != 1 || string(revs[0].Source) != "two, edited" {
		t.Fatalf("current revision of lesson 2: %v, %+v", err, revs)
	}
}

// Every revision a ledger row names stays: the ledger copies its revision
// from the lesson at the claim, and no revision can be deleted afterwards,
// not one row, not all of them.
func TestNoLessonRevisionCanBeDeletedSoEveryLedgerRowsRevisionExists(t *testing.T) {
	db := dbtest.New(t)
	ctx := context.Background()
	if _, err := db.SyncLessons(ctx, []store.LessonFile{{Number: 1, Source: []byte("one")}}, now); err != nil {
		t.Fatal(err)
	}
	for _, sql := range []string{`DELETE FROM lesson_revisions WHERE lesson = 1`, `DELETE FROM lesson_revisions WHERE false`, `TRUNCATE lesson_revisions CASCADE`} {
		_, err := db.Pool.Exec(ctx, sql)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "23001" {
			t.Errorf("%s: %v, want refused (restrict_violation)", sql, err)
		}
	}
	if n := count(t, db, `SELECT count(*) FROM lesson_revisions`); n != 1 {
		t.Fatalf("%d revisions left, want the one", n)
	}
	if n := count(t, db, `SELECT count(*) FROM lessons`); n != 1 {
		t.Fatalf("%d lessons left, want the one", n)
	}
}
