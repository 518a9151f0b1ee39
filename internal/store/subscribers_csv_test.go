package store_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/dbtest"
	"github.com/twostep/twostep/internal/drip"
	"github.com/twostep/twostep/internal/store"
)

// rowsOf feeds rows to an import, one at a time.
func rowsOf(rows ...store.ImportRow) func() (store.ImportRow, bool, error) {
	return func() (store.ImportRow, bool, error) {
		if len(rows) == 0 {
			return store.ImportRow{}, false, nil
		}
		r := rows[0]
		rows = rows[1:]
		return r, true, nil
	}
}

func TestAnImportedRowIsExportedWithEveryColumnAsItCame(t *testing.T) {
	db := dbtest.New(t)
	ctx := context.Background()
	wd, hour := time.Thursday, 7
	due, confirmed := now.Add(48*time.Hour), now.Add(-30*24*time.Hour)
	until, left := now.Add(14*24*time.Hour), now.Add(-24*time.Hour)
	rows := []store.ImportRow{
		{Email: "ann@example.com", Name: "Ann Lee", Status: drip.StatusActive, TimeZone: "Europe/Berlin", SendWeekday: &wd, SendHour: &hour,
			Round: 2, NextLesson: 14, NextDueAt: &due, ConsentMethod: "form", ConsentAt: confirmed.Add(-time.Hour), ConsentIP: "192.0.2.1",
			ConsentUserAgent: "Firefox", ConsentFormURL: "https://example.com/join", ConsentVersion: "2026-11-v1", ConfirmedAt: &confirmed},
		{Email: "bob@example.com", Name: "Bob", Status: drip.StatusPaused, TimeZone: "Asia/Tokyo", Round: 1, NextLesson: 3, PausedUntil: &until,
			ConsentMethod: "import", ConsentAt: confirmed, ConfirmedAt: &confirmed},
		{Email: "cy@example.com", Status: drip.StatusUnsubscribed, TimeZone: "UTC", Round: 1, NextLesson: 1,
			ConsentMethod: "import", ConsentAt: confirmed, UnsubscribedAt: &left},
	}
	for i := range rows {
		rows[i].Line = i + 2
	}
	a := store.AdminAction{Actor: "owner@example.com", IP: "192.0.2.1", At: now}
	c, err := db.ImportSubscribers(ctx, rowsOf(rows...), a)
	if err != nil || c != (store.ImportCounts{Rows: 3, Unique: 3, Added: 3}) {
		t.Fatalf("import: %+v, %v", c, err)
	}

	var got []store.ExportRow
	if err := db.ExportSubscribers(ctx, store.SubscriberFilter{}, func(r store.ExportRow) error {
		got = append(got, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(rows) {
		t.Fatalf("exported %d rows, want %d", len(got), len(rows))
	}
	for i, want := range rows {
		want.Line = 0 // the export has no source lines
		g := got[i]
		for _, p := range []**time.Time{&g.NextDueAt, &g.PausedUntil, &g.ConfirmedAt, &g.UnsubscribedAt} {
			if *p != nil {
				u := (*p).UTC()
				*p = &u
			}
		}
		g.ConsentAt = g.ConsentAt.UTC()
		if !reflect.DeepEqual(g, want) {
			t.Errorf("row %d exported as\n%+v\nwant\n%+v", i, g, want)
		}
	}

	// A filter narrows the export and its count alike.
	f := store.SubscriberFilter{Status: drip.StatusPaused}
	var paused []string
	db.ExportSubscribers(ctx, f, func(r store.ExportRow) error { paused = append(paused, r.Email); return nil })
	if n, err := db.CountSubscribers(ctx, f); err != nil || n != 1 || len(paused) != 1 || paused[0] != "bob@example.com" {
		t.Fatalf("paused: count %d (%v), exported %v", n, err, paused)
	}
}

func TestAnImportAddsOnlyNewAddressesQueuesSpacedConfirmationsAndIsAuditedOnce(t *testing.T) {
	db := dbtest.New(t)
	ctx := context.Background()
	known := signedUp(t, db, "known@example.com", true)
	pending := func(line int, email string) store.ImportRow {
		return store.ImportRow{Line: line, Email: email, Status: drip.StatusPending, TimeZone: "UTC", Round: 1, NextLesson: 1,
			ConsentMethod: "import", ConsentAt: now, Confirm: true}
	}
	a := store.AdminAction{Actor: "owner@example.com", IP: "192.0.2.1", At: now}
	c, err := db.ImportSubscribers(ctx, rowsOf(pending(2, "new1@example.com"), pending(3, "KNOWN@example.com"),
		pending(4, "new2@example.com"), pending(5, "New1@example.com")), a)
	if err != nil || c != (store.ImportCounts{Rows: 4, Unique: 3, Added: 2, Confirmations: 2}) {
		t.Fatalf("import: %+v, %v", c, err)
	}
	if s, _ := db.SubscriberByID(ctx, known.ID); s.Status != drip.StatusActive {
		t.Fatalf("a known address became %s", s.Status)
	}
	if n := count(t, db, `SELECT count(*) FROM outbox o JOIN subscribers s ON s.id = o.subscriber_id
		WHERE s.email = 'new2@example.com' AND o.next_attempt_at = $1`, now.Add(store.ImportConfirmInterval)); n != 1 {
		t.Fatal("the second confirmation is not due one interval after the first")
	}
	if n := count(t, db, `SELECT count(*) FROM events WHERE kind = 'imported' AND actor = $1`, a.Actor); n != 2 {
		t.Fatalf("%d imported events, want 2", n)
	}
	if n := count(t, db, `SELECT count(*) FROM admin_audit WHERE action = 'subscribers.import' AND (after->>'added')::int = 2`); n != 1 {
		t.Fatalf("%d audit entries for the import, want 1", n)
	}

	// A row that fails half way adds nobody.
	broken := errors.New("line 3: unreadable")
	calls := 0
	next := func() (store.ImportRow, bool, error) {
		calls++
		if calls == 2 {
			return store.ImportRow{}, false, broken
		}
		return pending(calls+1, "half@example.com"), true, nil
	}
	if _, err := db.ImportSubscribers(ctx, next, a); !errors.Is(err, broken) {
		t.Fatalf("a failing import: %v, want its reader's error", err)
	}
	if n := count(t, db, `SELECT count(*) FROM subscribers WHERE email = 'half@example.com'`); n != 0 {
		t.Fatal("a failed import added a subscriber")
	}
}
