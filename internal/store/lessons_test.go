package store_test

import (
	"context"
	"testing"

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
